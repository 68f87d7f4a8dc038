using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;

namespace AspireAi.Web.Jobs;

// The admin pages for the job queues and dead letters: services and endpoints.
internal static class JobsUi
{
    public static IHostApplicationBuilder AddJobsUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddUserApiClient<AdminJobsClient>();
        return builder;
    }

    // Nothing to map: the pages post their replay and cancel forms to themselves.
    public static IEndpointRouteBuilder MapJobsUi(this IEndpointRouteBuilder app) => app;
}
