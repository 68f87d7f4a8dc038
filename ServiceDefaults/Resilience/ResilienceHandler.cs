using System.Net.Http;
using Polly;

namespace AspireAi.ServiceDefaults;

internal sealed class ResilienceHandler(ResiliencePipeline<HttpResponseMessage> pipeline) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var buffered = await BufferedRequest.CreateAsync(request, cancellationToken).ConfigureAwait(false);

        // Polly disposes the response of every attempt it retries; the one returned belongs to the caller.
        return await pipeline.ExecuteAsync(
            static (state, token) => state.Handler.SendAttemptAsync(state.Buffered, token),
            (Handler: this, Buffered: buffered),
            cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask<HttpResponseMessage> SendAttemptAsync(BufferedRequest buffered, CancellationToken cancellationToken) =>
        await base.SendAsync(buffered.CreateAttempt(), cancellationToken).ConfigureAwait(false);
}
