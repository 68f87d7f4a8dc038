using System.Globalization;
using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.RetrievalQuality;

public sealed record SourceQualityView(long Retrievals, long Scored, double? AverageTopSimilarity, long LowConfidence, double? LowConfidenceRate, bool Alert);

public sealed record RecallFiguresView(int Runs, double FilteredRecall, double GlobalRecall, double NearestFound, int K);

public sealed record QualityWindowView(DateTimeOffset WindowStart, DateTimeOffset WindowEnd, SourceQualityView Memory, SourceQualityView Document,
    RecallFiguresView? Recall);

public sealed record RetrievalQualityView(DateTimeOffset From, DateTimeOffset To, double AlertThreshold, int AlertMinRetrievals, bool Alert,
    IReadOnlyList<QualityWindowView> Windows);

// The Api's retrieval-quality report for admins (/v1/admin/retrieval-quality).
internal sealed class RetrievalQualityClient(HttpClient http, TimeProvider time)
{
    public async Task<RetrievalQualityView> GetAsync(DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(WithQuery("v1/admin/retrieval-quality",
            ("from", from.ToString("o", CultureInfo.InvariantCulture)), ("to", to.ToString("o", CultureInfo.InvariantCulture))),
            cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<RetrievalQualityView>(time, cancellationToken).ConfigureAwait(false);
    }
}

internal static class RetrievalQualityUi
{
    public static IHostApplicationBuilder AddRetrievalQualityUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddUserApiClient<RetrievalQualityClient>();
        return builder;
    }
}
