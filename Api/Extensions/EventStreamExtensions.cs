using Microsoft.AspNetCore.Http.Features;

namespace AspireAi.Api.Extensions;

internal static class EventStreamExtensions
{
    /// <summary>
    /// Starts a server-sent event stream: headers out now, before the provider has produced anything, so the client
    /// knows it was accepted; nothing buffered on the way (proxies such as nginx buffer unless told otherwise, and a
    /// buffered stream is no stream).
    /// </summary>
    public static async Task StartEventStreamAsync(this HttpContext http)
    {
        ArgumentNullException.ThrowIfNull(http);
        var response = http.Response;
        response.ContentType = "text/event-stream";
        response.Headers.CacheControl = "no-cache";
        response.Headers["X-Accel-Buffering"] = "no";
        http.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        await response.StartAsync(http.RequestAborted);
    }
}
