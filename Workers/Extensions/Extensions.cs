using AspireAi.Core.Caching;
using AspireAi.Core.Data;
using AspireAi.Core.Idempotency;
using AspireAi.Core.Redis;
using AspireAi.ServiceDefaults;
using AspireAi.Workers.Documents;
using AspireAi.Workers.Encryption;
using AspireAi.Workers.Jobs;
using AspireAi.Workers.Memory;
using AspireAi.Workers.Prompts;

namespace AspireAi.Workers.Extensions;

internal static class Extensions
{
    public static void AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddRedis();
        builder.AddSharedCache();
        builder.AddJobWorkers();
        builder.AddDocumentJobs();
        builder.AddMemoryJobs();
        builder.AddEncryptionJobs();
        builder.AddPromptJobs();
        builder.AddIdempotencySweep();
    }
}
