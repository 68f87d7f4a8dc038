using System.Globalization;
using System.Threading.RateLimiting;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.RateLimiting;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Admission;

/// <summary>
/// Bounded in-flight chat turns per instance, on ASP.NET Core's rate-limiting middleware with one shared
/// <see cref="ConcurrencyLimiter"/>. Its lease is held until the endpoint returns, which for a stream is its last
/// event. The middleware's own metrics (meter <c>Microsoft.AspNetCore.RateLimiting</c>: active leases, queued and
/// rejected requests) show the admission state in the dashboard.
/// </summary>
internal static partial class AdmissionExtensions
{
    public const string ChatTurnsPolicy = "chat-turns";

    public static IHostApplicationBuilder AddAdmission(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<AdmissionOptions>()
            .BindConfiguration(AdmissionOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();
        builder.Services.AddSingleton<PreparationGate>();
        builder.Services.AddRateLimiter(_ => { });
        builder.Services.AddOptions<RateLimiterOptions>().Configure<IOptions<AdmissionOptions>>((limiter, admission) =>
        {
            var settings = admission.Value;
            // One limiter for the whole instance: the partition key is constant, so the factory runs once.
            limiter.AddPolicy(ChatTurnsPolicy, _ => settings.Enabled
                ? RateLimitPartition.GetConcurrencyLimiter("instance", _ => new ConcurrencyLimiterOptions
                {
                    PermitLimit = settings.MaxConcurrentChatTurns,
                    QueueLimit = settings.QueueLimit,
                    QueueProcessingOrder = QueueProcessingOrder.OldestFirst,
                })
                : RateLimitPartition.GetNoLimiter("instance"));
            limiter.OnRejected = (context, _) => RejectAsync(context.HttpContext, settings);
        });
        return builder;
    }

    /// <summary>After authorization (a refused caller never holds a slot) and before idempotency keys are claimed.</summary>
    public static IApplicationBuilder UseAdmission(this IApplicationBuilder app) => app.UseRateLimiter();

    /// <summary>Counts the endpoint's requests against the instance's chat-turn bound.</summary>
    public static TBuilder WithChatAdmission<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.RequireRateLimiting(ChatTurnsPolicy);

    private static async ValueTask RejectAsync(HttpContext httpContext, AdmissionOptions settings)
    {
        var retryAfter = Math.Max(1, (int)Math.Ceiling(settings.RetryAfter.TotalSeconds));
        var logger = httpContext.RequestServices.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(AdmissionExtensions).FullName!);
        LogRefused(logger, httpContext.Request.Path, settings.MaxConcurrentChatTurns);
        // Through the problem details writers (the OpenAI-compatible paths get OpenAI's error shape), else as plain
        // JSON: a stream request accepts only text/event-stream, which no writer claims.
        await AtCapacity(httpContext, retryAfter, string.Create(CultureInfo.InvariantCulture,
            $"This instance is answering {settings.MaxConcurrentChatTurns} chat turns (Admission:MaxConcurrentChatTurns). Nothing was sent or stored. Try again in {retryAfter} seconds."))
            .ExecuteAsync(httpContext).ConfigureAwait(false);
    }

    /// <summary>The 503 of a refused chat turn: Retry-After, and a ProblemDetails saying why and when to come back.</summary>
    internal static ProblemHttpResult AtCapacity(HttpContext httpContext, int retryAfterSeconds, string detail)
    {
        httpContext.Response.Headers.RetryAfter = retryAfterSeconds.ToString(CultureInfo.InvariantCulture);
        return TypedResults.Problem(
            title: "The server is at capacity",
            detail: detail,
            statusCode: StatusCodes.Status503ServiceUnavailable,
            type: "https://tools.ietf.org/html/rfc9110#section-15.6.4",
            extensions: new Dictionary<string, object?> { ["retryAfterSeconds"] = retryAfterSeconds });
    }

    // Debug: under overload this fires hundreds of times a second; the rate-limiting meter counts the refusals.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Refused {Path}: {MaxTurns} chat turns already in flight on this instance")]
    private static partial void LogRefused(ILogger logger, PathString path, int maxTurns);
}
