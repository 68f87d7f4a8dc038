using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;

namespace AspireAi.Web.Jobs;

// The admin pages for the job queues and dead letters: services and endpoints.
internal static class JobsUi
{
    public static IHostApplicationBuilder AddJobsUi(this IHostApplicationBuilder builder)
    {
        // Registered like ApiClient: the user's token, the browser's address, a handler that keeps no cookies.
        builder.Services.AddHttpClient<AdminJobsClient>(ApiClientExtensions.ConfigureClient)
            .ConfigurePrimaryHttpMessageHandler(() => ApiClientExtensions.CreateHandler(drainResponses: true))
            .AddHttpMessageHandler<ForwardedForHandler>()
            .AddHttpMessageHandler<ApiBearerTokenHandler>();
        return builder;
    }

    // Nothing to map: the pages post their replay and cancel forms to themselves.
    public static IEndpointRouteBuilder MapJobsUi(this IEndpointRouteBuilder app) => app;
}
