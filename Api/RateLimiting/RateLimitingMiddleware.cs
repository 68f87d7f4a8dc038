using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Http.Metadata;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.RateLimiting;

/// <summary>Endpoint metadata naming the route class an endpoint is limited in.</summary>
public sealed record RateLimitClassMetadata(RateLimitClass RouteClass);

/// <summary>
/// Limits every endpoint after authentication: the class comes from <see cref="RateLimitClassMetadata"/>, else
/// <see cref="RateLimitClass.Default"/>; anonymous endpoints without a class (health) are not limited. Each limited
/// response says its quota in the IETF draft's <c>RateLimit-Policy</c> and <c>RateLimit</c> headers; a refusal is
/// a 429 ProblemDetails with <c>Retry-After</c>.
/// </summary>
internal sealed class RateLimitingMiddleware(RequestDelegate next, TokenBuckets buckets, IOptions<RateLimitOptions> options)
{
    public async Task InvokeAsync(HttpContext context)
    {
        var settings = options.Value;
        var endpoint = context.GetEndpoint();
        var routeClass = endpoint?.Metadata.GetMetadata<RateLimitClassMetadata>()?.RouteClass;
        if (!settings.Enabled || endpoint is null || (routeClass is null && endpoint.Metadata.GetMetadata<IAllowAnonymous>() is not null))
        {
            await next(context);
            return;
        }

        var (caller, orgId) = Caller(context);
        var limitClass = routeClass ?? RateLimitClass.Default;
        var limit = settings.PlanFor(orgId, out _).Limit(limitClass);
        var failClosed = limitClass == RateLimitClass.Auth && settings.AuthFailClosed;
        var decision = await buckets.TakeAsync(limitClass, caller, limit, failClosed, context.RequestAborted);
        var policy = Policy(limitClass);
        context.Response.Headers["RateLimit-Policy"] = $"\"{policy}\";q={limit.Capacity};w={limit.WindowSeconds}";

        if (decision is null)
        {
            var pause = Seconds(buckets.OutagePause);
            context.Response.Headers.RetryAfter = pause;
            await TypedResults.Problem(
                title: "Rate limiting unavailable",
                detail: $"Requests to {policy} routes are refused while the shared rate-limit store is unavailable. Try again in {pause} s.",
                statusCode: StatusCodes.Status503ServiceUnavailable).ExecuteAsync(context);
            return;
        }

        var reset = decision.Allowed ? decision.ResetAfter : decision.RetryAfter;
        context.Response.Headers["RateLimit"] = $"\"{policy}\";r={decision.Remaining};t={Seconds(reset)}";
        if (endpoint.Metadata.GetMetadata<ITagsMetadata>()?.Tags.Contains(OpenAiTag) == true)
        {
            // OpenAI's clients read their own names for the same numbers (and back off on them).
            context.Response.Headers["x-ratelimit-limit-requests"] = limit.Capacity.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["x-ratelimit-remaining-requests"] = decision.Remaining.ToString(CultureInfo.InvariantCulture);
            context.Response.Headers["x-ratelimit-reset-requests"] = Seconds(reset) + "s";
        }
        if (decision.Allowed)
        {
            await next(context);
            return;
        }

        var retry = Seconds(decision.RetryAfter);
        context.Response.Headers.RetryAfter = retry;
        await TypedResults.Problem(
            title: "Too many requests",
            detail: $"The {policy} limit is {limit.Capacity} requests, refilled at {limit.PerMinute} a minute. Try again in {retry} s.",
            statusCode: StatusCodes.Status429TooManyRequests,
            extensions: new Dictionary<string, object?> { ["policy"] = policy, ["retryAfterSeconds"] = int.Parse(retry, CultureInfo.InvariantCulture) })
            .ExecuteAsync(context);
    }

    // The tag of the OpenAI-compatible endpoints (Api/OpenAiCompat).
    private const string OpenAiTag = "OpenAI";

    /// <summary>Kebab-case class name, the policy's name in the headers ("memory-writes").</summary>
    internal static string Policy(RateLimitClass routeClass) => routeClass switch
    {
        RateLimitClass.MemoryWrites => "memory-writes",
        _ => routeClass.ToString().ToLowerInvariant(),
    };

    /// <summary>
    /// Who is counted: the API key, else the user, else the client address (hashed: Redis holds nothing personal).
    /// </summary>
    internal static (string Caller, string? OrgId) Caller(HttpContext context)
    {
        var user = context.User;
        var orgId = user.FindFirst(AspireAiClaims.OrgId)?.Value;
        if (user.FindFirst(AspireAiClaims.ApiKeyId)?.Value is { } keyId)
        {
            return ($"key:{keyId}", orgId);
        }
        if (user.Identity?.IsAuthenticated == true && user.FindFirst(AspireAiClaims.UserId)?.Value is { } userId)
        {
            return ($"user:{userId}", orgId);
        }
        var address = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        return ("ip:" + Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(address)).AsSpan(0, 16)), null);
    }

    private static string Seconds(TimeSpan wait) => Math.Max(1, (int)Math.Ceiling(wait.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
}
