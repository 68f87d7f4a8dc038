using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.Jobs;

// The Api's job administration (/v1/admin/jobs), called as the signed-in admin. The Api checks the role of
// every call itself, so a user whose role was withdrawn after sign-in gets its 403 here, not data.
internal sealed class AdminJobsClient(HttpClient http, TimeProvider time)
{
    private const string Jobs = "v1/admin/jobs";

    public async Task<JobQueueStats> GetStatsAsync(CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"{Jobs}/stats", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<JobQueueStats>(time, cancellationToken).ConfigureAwait(false);
    }

    // Newest first. The filters and limit go to the Api as given: it validates them and its 400 names the field.
    public async Task<ApiPage<AdminJob>> ListAsync(JobFilter filter, string? cursor, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(filter);
        using var response = await http.GetAsync(
            WithQuery(Jobs, ("status", filter.Status), ("type", filter.Type), ("cursor", cursor), ("limit", filter.Limit)),
            cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<AdminJob>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<AdminJobDetails> GetAsync(long id, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"{Jobs}/{Invariant(id)}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<AdminJobDetails>(time, cancellationToken).ConfigureAwait(false);
    }

    // 409 when the job is neither dead nor cancelled, or an unfinished job with its dedupe key exists; 404 when gone.
    public Task<AdminJob> ReplayAsync(long id, CancellationToken cancellationToken) => PostAsync(id, "replay", cancellationToken);

    // 409 when the job is no longer queued (running or finished); 404 when gone.
    public Task<AdminJob> CancelAsync(long id, CancellationToken cancellationToken) => PostAsync(id, "cancel", cancellationToken);

    private async Task<AdminJob> PostAsync(long id, string action, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync($"{Jobs}/{Invariant(id)}/{action}", content: null, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<AdminJob>(time, cancellationToken).ConfigureAwait(false);
    }

    private static string Invariant(long value) => value.ToString(System.Globalization.CultureInfo.InvariantCulture);
}
