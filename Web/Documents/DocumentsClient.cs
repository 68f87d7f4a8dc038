using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.Documents;

// The Api's document endpoints, called as the signed-in user (registered like ApiClient). File uploads do not
// go through here: see DocumentUploadClient.
internal sealed class DocumentsClient(HttpClient http, TimeProvider time)
{
    public async Task<ApiPage<Document>> ListAsync(string? cursor, int limit, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(
            WithQuery("v1/documents", ("cursor", cursor), ("limit", Invariant(limit))), cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<Document>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<Document> GetAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/documents/{id}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<Document>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task DeleteAsync(Guid id, CancellationToken cancellationToken)
    {
        using var response = await http.DeleteAsync($"v1/documents/{id}", cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<ApiPage<DocumentChunk>> ListChunksAsync(Guid id, string? cursor, int limit, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(
            WithQuery($"v1/documents/{id}/chunks", ("cursor", cursor), ("limit", Invariant(limit))), cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<ApiPage<DocumentChunk>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<DocumentChunk> GetChunkAsync(Guid id, Guid chunkId, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"v1/documents/{id}/chunks/{chunkId}", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<DocumentChunk>(time, cancellationToken).ConfigureAwait(false);
    }

    // Pasted text: a small JSON body, so the usual (buffering, resilient) pipeline is fine here.
    public async Task<DocumentAccepted> UploadTextAsync(string? title, string text, string? scope, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            "v1/documents", new CreateTextDocumentRequest(title, text, scope), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<DocumentAccepted>(time, cancellationToken).ConfigureAwait(false);
    }
}
