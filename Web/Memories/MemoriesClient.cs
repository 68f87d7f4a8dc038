using System.Globalization;
using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.Memories;

// The Api's /v1/memories and /v1/admin/memories endpoints, called as the signed-in user (registered like
// ApiClient in MemoriesUi). Every failure is an ApiException carrying the Api's problem.
internal sealed class MemoriesClient(HttpClient http, TimeProvider time)
{
    public const string ExportMediaType = "application/json";

    public async Task<ApiPage<Memory>> ListAsync(MemoryListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        using var response = await http.GetAsync(ListUri("v1/memories", query), cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<Memory>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Memory> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/memories/{id}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<Memory>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MemoryHistory> GetHistoryAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/memories/{id}/history", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<MemoryHistory>(time, cancellationToken).ConfigureAwait(false);
    }

    // Stored as written (infer=false): 201 ADD, or 200 NOOP when the user already has this memory.
    public async Task<MemoryWrite> CreateAsync(string? text, string? type, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            "v1/memories", new CreateMemoryBody(text, Infer: false, type, null), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<MemoryWrite>(time, cancellationToken).ConfigureAwait(false);
    }

    // A new version of the memory (history: UPDATE by actor "user"); the answer holds the new version's id.
    public async Task<MemoryWrite> UpdateAsync(Guid id, string? text, string? type, double? importance, CancellationToken cancellationToken)
    {
        using var response = await http.PutAsJsonAsync(
            $"v1/memories/{id}", new UpdateMemoryBody(text, type, importance), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<MemoryWrite>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"v1/memories/{id}", cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<MemoryErasure> EraseAllAsync(CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync("v1/memories", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<MemoryErasure>(time, cancellationToken).ConfigureAwait(false);
    }

    // The export as the Api sent it, to stream on to the browser; the caller owns (disposes) the response.
    public async Task<HttpResponseMessage> OpenExportAsync(CancellationToken cancellationToken)
    {
        var response = await http.GetAsync("v1/memories/export", HttpCompletionOption.ResponseHeadersRead, cancellationToken).ConfigureAwait(false);
        try
        {
            await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
            return response;
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    public async Task<ApiPage<Memory>> ListForAdminAsync(Guid? userId, MemoryListQuery query, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(query);
        var uri = ListUri("v1/admin/memories", query, ("userId", userId?.ToString()));
        using var response = await http.GetAsync(uri, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<Memory>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<AdminMemory> GetForAdminAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/admin/memories/{id}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<AdminMemory>(time, cancellationToken).ConfigureAwait(false);
    }

    private static string ListUri(string path, MemoryListQuery query, params (string Name, string? Value)[] more) =>
        WithQuery(path,
        [
            .. more,
            ("scope", query.Scope),
            ("type", query.Type),
            ("includeInvalidated", query.IncludeInvalidated ? "true" : null),
            ("cursor", query.Cursor),
            ("limit", query.Limit.ToString(CultureInfo.InvariantCulture)),
        ]);
}
