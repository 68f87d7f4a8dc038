using System.Net.Http.Headers;
using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;

namespace AspireAi.Web.Documents;

/// <summary>
/// Streams an uploaded file from the browser's request straight into the Api's <c>POST /v1/documents</c>. Its client
/// has no resilience handler (see <see cref="DocumentsUi"/>): a streamed body cannot be replayed, and an upload may
/// outlast the standard attempt timeout. It sends the user's token and the browser's address itself.
/// </summary>
internal sealed class DocumentUploadClient(HttpClient http, UserSession session, TimeProvider time)
{
    private const int CopyBufferSize = 64 * 1024;

    public async Task<DocumentAccepted> UploadAsync(HttpContext context, DocumentFileUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(upload);

        var (tokens, _) = await session.GetCurrentTokensAsync(context, cancellationToken).ConfigureAwait(false);
        if (tokens is null)
        {
            throw new ApiException(new ApiProblem(StatusCodes.Status401Unauthorized, "Sign in again.", null, null, null,
                new Dictionary<string, string[]>(), null));
        }

        using var content = new MultipartFormDataContent();
        if (!string.IsNullOrWhiteSpace(upload.Title))
        {
            content.Add(new StringContent(upload.Title), "title");
        }

        if (!string.IsNullOrWhiteSpace(upload.Scope))
        {
            content.Add(new StringContent(upload.Scope), "scope");
        }

        var file = new StreamContent(upload.Content, CopyBufferSize);
        file.Headers.ContentType = MediaTypeHeaderValue.TryParse(upload.ContentType, out var type)
            ? type
            : new MediaTypeHeaderValue("application/octet-stream");
        content.Add(file, "file", upload.FileName);

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri("v1/documents", UriKind.Relative)) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.AccessToken);
        // The Api may refuse the upload (too large, bad format) before reading all of it; with 100-continue the
        // handler stops sending and returns that answer instead of failing on a connection the Api closed.
        request.Headers.ExpectContinue = true;
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<DocumentAccepted>(time, cancellationToken).ConfigureAwait(false);
    }
}

internal sealed record DocumentFileUpload(string FileName, string? ContentType, string? Title, string? Scope, Stream Content);
