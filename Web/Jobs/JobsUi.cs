namespace AspireAi.Web.Jobs;

// The admin pages for the job queues and dead letters: services and endpoints.
internal static class JobsUi
{
    public static IHostApplicationBuilder AddJobsUi(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapJobsUi(this IEndpointRouteBuilder app) => app;
}
