using AspireAi.ServiceDefaults;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Http;
using Microsoft.Extensions.Options;

namespace Microsoft.Extensions.DependencyInjection;

public static class ResilienceHttpClientBuilderExtensions
{
    // Timeouts, retries with backoff and Retry-After, circuit breaker: see HttpResilienceProfile.
    public static IHttpClientBuilder AddStandardResilienceHandler(this IHttpClientBuilder builder) =>
        builder.AddResilienceHandler(HttpResilienceProfile.Standard);

    // For clients calling a model server. Takes the place of the standard handler that
    // AddServiceDefaults puts on every client, rather than stacking a second pipeline on it.
    public static IHttpClientBuilder AddLlmResilienceHandler(this IHttpClientBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);

        // The profile's total timeout (minutes) governs; HttpClient's own 100 s default would cut it short.
        builder.ConfigureHttpClient(client => client.Timeout = Timeout.InfiniteTimeSpan);
        return builder.AddResilienceHandler(HttpResilienceProfile.Llm);
    }

    private static IHttpClientBuilder AddResilienceHandler(this IHttpClientBuilder builder, string profileName)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddHttpResilienceProfiles();

        // A named client records its choice, so a handler added for all clients (by
        // ConfigureHttpClientDefaults, whose actions run first) already uses this client's profile.
        if (builder.Name is not null)
        {
            builder.Services.Configure<ResilienceHandlerSelection>(builder.Name, selection => selection.ProfileName = profileName);
        }

        // The handler is created from HttpMessageHandlerBuilder rather than AddHttpMessageHandler because
        // only the former knows the client name when configured for all clients, and the circuit breaker
        // must be per client.
        builder.Services.Configure<HttpClientFactoryOptions>(builder.Name, options =>
            options.HttpMessageHandlerBuilderActions.Add(handlers =>
            {
                // One pipeline per client: stacked pipelines would multiply the retries and timeouts.
                if (handlers.AdditionalHandlers.Any(handler => handler is ResilienceHandler))
                {
                    return;
                }

                var clientName = handlers.Name ?? string.Empty;
                var selected = handlers.Services.GetRequiredService<IOptionsMonitor<ResilienceHandlerSelection>>()
                    .Get(clientName).ProfileName ?? profileName;
                var pipeline = handlers.Services.GetRequiredService<HttpResiliencePipelineProvider>()
                    .GetPipeline(clientName, selected);
                handlers.AdditionalHandlers.Add(new ResilienceHandler(pipeline));
            }));

        return builder;
    }

    private static void AddHttpResilienceProfiles(this IServiceCollection services)
    {
        if (services.Any(descriptor => descriptor.ServiceType == typeof(HttpResiliencePipelineProvider)))
        {
            return;
        }

        services.AddOptions<HttpResilienceProfile>(HttpResilienceProfile.Standard)
            .BindConfiguration($"{HttpResilienceProfile.ConfigurationSectionPrefix}:Standard")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.AddOptions<HttpResilienceProfile>(HttpResilienceProfile.Llm)
            .Configure(HttpResilienceProfile.ApplyLlmDefaults)
            .BindConfiguration($"{HttpResilienceProfile.ConfigurationSectionPrefix}:Llm")
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.TryAddSingleton<HttpResiliencePipelineProvider>();
    }
}
