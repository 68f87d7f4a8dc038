using System.Buffers;
using System.Text.Json;
using AspireAi.Web.ApiClients;
using Microsoft.AspNetCore.Http.Features;

namespace AspireAi.Web.Chat;

// Sends the Api's answer to the browser as it arrives: the SSE stream event by event, or the Api's
// ProblemDetails (400, 404, 429 ...) unchanged with its status. Owns and disposes the Api's response;
// disposing it closes the Api connection, which is how the Api learns that the browser has gone.
internal sealed partial class UpstreamResult(HttpResponseMessage upstream, ILogger logger) : IResult, IStatusCodeHttpResult
{
    private const int BufferSize = 16 * 1024;

    // The headers worth passing on: what the body is, when to retry, which trace to quote.
    private static readonly string[] ForwardedHeaders = ["Retry-After", ApiProblem.TraceIdHeader];

    public int? StatusCode => (int)upstream.StatusCode;

    public async Task ExecuteAsync(HttpContext httpContext)
    {
        ArgumentNullException.ThrowIfNull(httpContext);

        using var _ = upstream;
        var response = httpContext.Response;
        var aborted = httpContext.RequestAborted;

        response.StatusCode = (int)upstream.StatusCode;
        response.ContentType = upstream.Content.Headers.ContentType?.ToString();
        foreach (var name in ForwardedHeaders)
        {
            if (upstream.Headers.TryGetValues(name, out var values))
            {
                response.Headers[name] = values.ToArray();
            }
        }

        var isEventStream = upstream.Content.Headers.ContentType?.MediaType == ChatStreamClient.EventStreamMediaType;
        if (isEventStream)
        {
            response.Headers.CacheControl = "no-cache";
            // Reverse proxies (nginx) buffer responses unless told not to, which would hold the tokens back.
            response.Headers["X-Accel-Buffering"] = "no";
            httpContext.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        }

        var buffer = ArrayPool<byte>.Shared.Rent(BufferSize);
        try
        {
            await response.StartAsync(aborted);
            var body = await upstream.Content.ReadAsStreamAsync(aborted);
            int read;
            while ((read = await body.ReadAsync(buffer.AsMemory(0, BufferSize), aborted)) > 0)
            {
                await response.Body.WriteAsync(buffer.AsMemory(0, read), aborted);
                // Each chunk goes out at once: the point of streaming is to show tokens as they come.
                await response.Body.FlushAsync(aborted);
            }
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && aborted.IsCancellationRequested)
        {
            // The browser left (or pressed Stop). Disposing the Api's response on return closes that connection,
            // which cancels the generation.
            LogClientDisconnected();
        }
        catch (Exception ex) when (ex is IOException or HttpRequestException)
        {
            // The Api's side broke off mid-answer. The browser's stream ends with an error event it can show,
            // instead of stopping silently.
            LogUpstreamFailed(ex.GetType().Name);
            if (isEventStream)
            {
                await WriteErrorEventAsync(response, aborted);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    private static async Task WriteErrorEventAsync(HttpResponse response, CancellationToken cancellationToken)
    {
        var problem = new
        {
            type = "https://tools.ietf.org/html/rfc9110#section-15.6.3",
            title = "The answer was interrupted.",
            status = StatusCodes.Status502BadGateway,
            detail = "The connection to the chat service broke off. Retry to ask again.",
        };

        try
        {
            // A blank line first closes any event the Api had only half sent; serialised JSON is one line.
            await response.WriteAsync($"\nevent: error\ndata: {JsonSerializer.Serialize(problem)}\n\n", cancellationToken);
            await response.Body.FlushAsync(cancellationToken);
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException)
        {
            // The browser has gone too; nothing left to tell.
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The browser disconnected during a chat stream; cancelling the Api request")]
    private partial void LogClientDisconnected();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Api's chat stream failed mid-answer ({Error})")]
    private partial void LogUpstreamFailed(string error);
}
