using System.Net.Http;
using Polly;

namespace AspireAi.ServiceDefaults;

internal sealed class ResilienceHandler(ResiliencePipeline<HttpResponseMessage> pipeline) : DelegatingHandler
{
    /// <summary>Set on a request when replaying it cannot repeat a side effect.</summary>
    internal static readonly ResiliencePropertyKey<bool> SafeToReplay = new("AspireAi.SafeToReplay");

    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        var buffered = await BufferedRequest.CreateAsync(request, cancellationToken).ConfigureAwait(false);

        var context = ResilienceContextPool.Shared.Get(cancellationToken);
        context.Properties.Set(SafeToReplay, IsSafeToReplay(request));
        try
        {
            // Polly disposes the response of every attempt it retries; the one returned belongs to the caller.
            var outcome = await pipeline.ExecuteOutcomeAsync(
                static async (ctx, state) =>
                {
                    try
                    {
                        return Outcome.FromResult(await state.Handler.SendAttemptAsync(state.Buffered, ctx.CancellationToken).ConfigureAwait(false));
                    }
                    catch (Exception ex)
                    {
                        return Outcome.FromException<HttpResponseMessage>(ex);
                    }
                },
                context,
                (Handler: this, Buffered: buffered)).ConfigureAwait(false);
            outcome.ThrowIfException();
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    // A POST that reached the server may have done its work even if the answer was a 503 or never came:
    // resending it could, say, post a chat message twice. Only idempotent methods, or requests that carry an
    // Idempotency-Key the server deduplicates on, are replayed after the request may have been processed.
    private static bool IsSafeToReplay(HttpRequestMessage request) =>
        request.Method == HttpMethod.Get || request.Method == HttpMethod.Head || request.Method == HttpMethod.Options
        || request.Method == HttpMethod.Put || request.Method == HttpMethod.Delete || request.Method == HttpMethod.Trace
        || request.Headers.Contains("Idempotency-Key");

    private async ValueTask<HttpResponseMessage> SendAttemptAsync(BufferedRequest buffered, CancellationToken cancellationToken) =>
        await base.SendAsync(buffered.CreateAttempt(), cancellationToken).ConfigureAwait(false);
}
