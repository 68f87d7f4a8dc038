using Microsoft.AspNetCore.Http;

namespace AspireAi.ServiceDefaults;

public static class HealthEndpoints
{
    // Readiness: every registered check must pass before the orchestrator sends traffic.
    public const string HealthPath = "/health";

    // Liveness: only checks tagged LiveTag, so a down dependency does not get the process restarted.
    public const string AlivePath = "/alive";

    public const string LiveTag = "live";

    // The per-check report (names, states, durations): it maps the service's dependencies, so it is not anonymous.
    // Mapped only in a service that defines the DetailsPolicy authorization policy (the Api: administrators).
    public const string DetailsPath = "/health/details";

    public const string DetailsPolicy = "health-details";

    internal static bool IsHealthRequest(PathString path) =>
        path.Equals(HealthPath, StringComparison.OrdinalIgnoreCase)
        || path.Equals(AlivePath, StringComparison.OrdinalIgnoreCase)
        || path.Equals(DetailsPath, StringComparison.OrdinalIgnoreCase);
}
