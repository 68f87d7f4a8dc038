using System.Net.Http;

namespace AspireAi.ServiceDefaults;

// An HttpRequestMessage can be sent only once and its content stream read only once, so the resilience
// handler keeps the caller's request as a template and sends a fresh copy, with the body buffered up
// front, on every attempt. The template itself is never sent, so inner handlers that rewrite the URI
// (service discovery) start from the logical address again on each attempt.
internal sealed class BufferedRequest
{
    private readonly HttpRequestMessage _template;
    private readonly byte[]? _content;

    private BufferedRequest(HttpRequestMessage template, byte[]? content)
    {
        _template = template;
        _content = content;
    }

    public static async Task<BufferedRequest> CreateAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var content = request.Content is null
            ? null
            : await request.Content.ReadAsByteArrayAsync(cancellationToken).ConfigureAwait(false);
        return new BufferedRequest(request, content);
    }

    public HttpRequestMessage CreateAttempt()
    {
        var attempt = new HttpRequestMessage(_template.Method, _template.RequestUri)
        {
            Version = _template.Version,
            VersionPolicy = _template.VersionPolicy,
        };

        foreach (var header in _template.Headers)
        {
            attempt.Headers.TryAddWithoutValidation(header.Key, header.Value);
        }

        foreach (var option in _template.Options)
        {
            ((IDictionary<string, object?>)attempt.Options)[option.Key] = option.Value;
        }

        if (_content is not null && _template.Content is not null)
        {
            attempt.Content = new ByteArrayContent(_content);
            foreach (var header in _template.Content.Headers)
            {
                attempt.Content.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
        }

        return attempt;
    }
}
