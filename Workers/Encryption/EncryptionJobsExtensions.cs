using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;

namespace AspireAi.Workers.Encryption;

internal static class EncryptionJobsExtensions
{
    /// <summary>The key rotation job (enqueued by administrators only: it has no schedule).</summary>
    public static IHostApplicationBuilder AddEncryptionJobs(this IHostApplicationBuilder builder)
    {
        builder.AddEncryption();
        builder.AddJobs();
        builder.Services.AddJobHandler<KeyRotationHandler>();
        return builder;
    }
}
