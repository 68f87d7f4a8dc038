using System.Net.Http.Headers;
using AspireAi.ServiceDefaults;
using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using Microsoft.Extensions.Options;

namespace AspireAi.Web.Documents;

/// <summary>
/// Streams an uploaded file from the browser's request straight into the Api's <c>POST /v1/documents</c>.
/// Deliberately not an IHttpClientFactory client: the resilience handler AddServiceDefaults puts on every such
/// client buffers the whole request body to be able to replay it, and a streamed body cannot be replayed anyway.
/// It does by hand what ApiClient's pipeline does: resolve "http://api", send the user's token and the browser's
/// address.
/// </summary>
internal sealed class DocumentUploadClient : IDisposable
{
    private const int CopyBufferSize = 64 * 1024;

    private readonly HttpClient _http;
    private readonly ServiceEndpointResolver _resolver;
    private readonly UserSession _session;
    private readonly TimeProvider _time;

    public DocumentUploadClient(ServiceEndpointResolver resolver, UserSession session, TimeProvider time, IOptions<DocumentsUiOptions> options)
    {
        _resolver = resolver;
        _session = session;
        _time = time;
        _http = new HttpClient(ApiClientExtensions.CreateHandler(drainResponses: true)) { Timeout = options.Value.UploadTimeout };
    }

    public async Task<DocumentAccepted> UploadAsync(HttpContext context, DocumentFileUpload upload, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(upload);

        var (tokens, _) = await _session.GetCurrentTokensAsync(context, cancellationToken).ConfigureAwait(false);
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

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(ApiAddress(), "v1/documents")) { Content = content };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.AccessToken);
        // The Api may refuse the upload (too large, bad format) before reading all of it; with 100-continue the
        // handler stops sending and returns that answer instead of failing on a connection the Api closed.
        request.Headers.ExpectContinue = true;
        if (context.Connection.RemoteIpAddress is { } address)
        {
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", address.ToString());
        }

        using var response = await _http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<DocumentAccepted>(_time, cancellationToken).ConfigureAwait(false);
    }

    // ServiceDiscoveryHandler's rewrite, for this one client outside the factory.
    private Uri ApiAddress()
    {
        var logical = ApiClientExtensions.ApiBaseAddress;
        return _resolver.Resolve(logical.Host, logical.Scheme) is { } endpoint
            ? new UriBuilder(logical) { Scheme = endpoint.Scheme, Host = endpoint.Host, Port = endpoint.Port }.Uri
            : logical;
    }

    public void Dispose() => _http.Dispose();
}

internal sealed record DocumentFileUpload(string FileName, string? ContentType, string? Title, string? Scope, Stream Content);
