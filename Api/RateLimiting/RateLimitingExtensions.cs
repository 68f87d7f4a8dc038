namespace AspireAi.Api.RateLimiting;

internal static class RateLimitingExtensions
{
    /// <summary>Shared token-bucket limits (section "RateLimits"); needs the Redis client registered.</summary>
    public static IHostApplicationBuilder AddRateLimits(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<RateLimitOptions>()
            .BindConfiguration(RateLimitOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<TokenBuckets>();
        return builder;
    }

    /// <summary>Runs after routing and authentication (which WebApplication adds first), so the endpoint and caller are known.</summary>
    public static IApplicationBuilder UseRateLimits(this IApplicationBuilder app) => app.UseMiddleware<RateLimitingMiddleware>();

    /// <summary>Counts the group's (or endpoint's) requests in <paramref name="routeClass"/>'s bucket.</summary>
    public static TBuilder WithRateLimitClass<TBuilder>(this TBuilder builder, RateLimitClass routeClass) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new RateLimitClassMetadata(routeClass));

    /// <summary>
    /// Like <see cref="WithRateLimitClass"/>, for the endpoints that change state only (any method but GET/HEAD);
    /// reads stay in the default bucket.
    /// </summary>
    public static TBuilder WithRateLimitClassForWrites<TBuilder>(this TBuilder builder, RateLimitClass routeClass) where TBuilder : IEndpointConventionBuilder
    {
        builder.Add(endpoint =>
        {
            var methods = endpoint.Metadata.OfType<IHttpMethodMetadata>().LastOrDefault()?.HttpMethods ?? [];
            if (methods.Any(m => !HttpMethods.IsGet(m) && !HttpMethods.IsHead(m)))
            {
                endpoint.Metadata.Add(new RateLimitClassMetadata(routeClass));
            }
        });
        return builder;
    }
}
