using AspireAi.ServiceDefaults.ErrorHandling;

namespace AspireAi.Api.Problems;

internal static class ProblemsExtensions
{
    /// <summary>
    /// The exceptions from Core that are not bugs (an unreachable database, input only the database refuses, a full
    /// job queue, stored ciphertext that fails authentication) and the ProblemDetails each becomes. Core throws them; only the HTTP host knows about status codes.
    /// </summary>
    public static IServiceCollection AddProblemMappings(this IServiceCollection services)
    {
        services.AddProblemExceptionHandler<DatabaseUnavailableHandler>();
        services.AddProblemExceptionHandler<DatabaseInputRejectedHandler>();
        services.AddProblemExceptionHandler<JobQueueFullHandler>();
        services.AddProblemExceptionHandler<EncryptedDataHandler>();
        return services;
    }
}
