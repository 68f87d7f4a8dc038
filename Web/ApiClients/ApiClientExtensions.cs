using AspireAi.ServiceDefaults;
using AspireAi.Web.Account;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspireAi.Web.ApiClients;

internal static class ApiClientExtensions
{
    // A logical address: service discovery (AddServiceDefaults) resolves it from services:api:http:0.
    public static readonly Uri ApiBaseAddress = new($"http://{ResourceNames.Api}/");

    public static IHostApplicationBuilder AddApiClients(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;
        services.TryAddSingleton(TimeProvider.System);
        services.AddHttpContextAccessor();
        services.AddTransient<ForwardedForHandler>();
        services.AddOptions<ProxyKeyOptions>().BindConfiguration("Proxy");

        services.AddHttpClient<ApiAuthClient>(ConfigureClient)
            .ConfigurePrimaryHttpMessageHandler(() => CreateHandler(drainResponses: true))
            .AddHttpMessageHandler<ForwardedForHandler>();

        services.AddUserApiClient<ApiClient>();

        services.AddHttpClient<ChatStreamClient>(ConfigureClient)
            .AddLlmResilienceHandler()
            // Not draining: when the browser leaves, disposing the Api's response must close the connection
            // at once, which is how the Api learns to cancel the generation (rather than after the handler
            // has read on for up to its drain timeout to reuse the connection).
            .ConfigurePrimaryHttpMessageHandler(() => CreateHandler(drainResponses: false))
            .AddHttpMessageHandler<ForwardedForHandler>()
            .AddHttpMessageHandler<ApiBearerTokenHandler>();

        return builder;
    }

    /// <summary>
    /// A typed client that calls the Api as the signed-in user: the user's token (refreshed when needed), the
    /// browser's address, and a handler that keeps no cookies. Every feature's client is registered this way.
    /// </summary>
    public static IHttpClientBuilder AddUserApiClient<TClient>(this IServiceCollection services) where TClient : class =>
        services.AddHttpClient<TClient>(ConfigureClient)
            .ConfigurePrimaryHttpMessageHandler(() => CreateHandler(drainResponses: true))
            .AddHttpMessageHandler<ForwardedForHandler>()
            .AddHttpMessageHandler<ApiBearerTokenHandler>();

    private static void ConfigureClient(HttpClient client) => client.BaseAddress = ApiBaseAddress;

    // One handler serves every user: it must hold no cookies (the default handler keeps a shared cookie
    // jar) and follow no redirects with a user's token.
    internal static SocketsHttpHandler CreateHandler(bool drainResponses)
    {
        var handler = new SocketsHttpHandler { UseCookies = false, AllowAutoRedirect = false };
        if (!drainResponses)
        {
            handler.MaxResponseDrainSize = 0;
        }

        return handler;
    }
}
