using AspireAi.Api.Auth;
using AspireAi.Core.Identity;
using AspireAi.Core.RetrievalQuality;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.RetrievalQuality;

/// <summary>Admin report of retrieval quality per 15-minute window: memory and document retrieval, and the recall monitor.</summary>
public static class RetrievalQualityApi
{
    private static readonly TimeSpan MaxRange = TimeSpan.FromDays(7);

    public static RouteGroupBuilder MapRetrievalQualityApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/retrieval-quality").WithTags("Retrieval quality")
            .RequireAuthorization(AspireAiPolicies.Admin).RequireScope(ApiKeyScopes.Admin);
        group.MapGet("/", GetWindows);
        return group;
    }

    /// <param name="Alert">True when the newest window with enough retrievals of either source is below the threshold.</param>
    public sealed record RetrievalQualityResponse(DateTimeOffset From, DateTimeOffset To, double AlertThreshold, int AlertMinRetrievals, bool Alert,
        IReadOnlyList<QualityWindow> Windows);

    /// <summary>The windows in [from, to); the last 24 hours by default, at most 7 days.</summary>
    public static async Task<Results<Ok<RetrievalQualityResponse>, ValidationProblem>> GetWindows(
        HttpContext http, RetrievalQualityStore store, IOptions<RetrievalQualityOptions> options, TimeProvider time,
        DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        var end = to ?? time.GetUtcNow();
        var start = from ?? end.AddDays(-1);
        if (start >= end || end - start > MaxRange)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["from"] = ["from must be before to, and the range at most 7 days."],
            });
        }
        var settings = options.Value;
        var windows = await store.WindowsAsync(start, end, settings.AlertThreshold, settings.AlertMinRetrievals, http.RequestAborted);
        var latest = windows.LastOrDefault(w => w.Memory.Scored >= settings.AlertMinRetrievals || w.Document.Scored >= settings.AlertMinRetrievals);
        return TypedResults.Ok(new RetrievalQualityResponse(start, end, settings.AlertThreshold, settings.AlertMinRetrievals,
            latest is not null && (latest.Memory.Alert || latest.Document.Alert), windows));
    }
}
