namespace AspireAi.Api.Idempotency;

internal static class IdempotencyEndpointExtensions
{
    /// <summary>After authentication (the key is per user) and rate limiting (a replay still counts as a request).</summary>
    public static IApplicationBuilder UseIdempotencyKeys(this IApplicationBuilder app) => app.UseMiddleware<IdempotencyMiddleware>();

    /// <summary>The group's POST endpoints honour Idempotency-Key.</summary>
    public static TBuilder WithIdempotency<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(IdempotentMetadata.Instance);
}
