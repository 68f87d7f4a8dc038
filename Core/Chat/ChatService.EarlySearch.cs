namespace AspireAi.Core.Chat;

public sealed partial class ChatService
{
    /// <summary>
    /// Starts the context search before the turn is checked, when its request is already known (the conversation's
    /// agent remembered from an earlier turn): the search then runs beside the state read rather than after it, which is
    /// a step less before the first token. <see langword="null"/> when the request is not known.
    /// </summary>
    private EarlySearch? StartEarlySearch(ChatContextRequest? request, CancellationToken cancellationToken)
    {
        if (request is null || !settings.Value.EarlyContextSearch)
        {
            return null;
        }
        var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        return new EarlySearch(request, stop, SearchContextAsync(request, stop.Token));
    }

    /// <summary>The early search if it was started for this very request, else a search started now.</summary>
    private Task<ProviderDraft[]> SearchFor(ChatContextRequest request, EarlySearch? early, CancellationToken cancellationToken) =>
        early?.Take(request) ?? SearchContextAsync(request, cancellationToken);

    /// <summary>
    /// A context search started before the turn was checked. Unless the checked turn takes it, disposing it stops the
    /// search and drops what it found; a provider's search leaves nothing behind that needs the turn (see
    /// <see cref="IChatContextProvider"/>).
    /// </summary>
    private sealed class EarlySearch : IDisposable
    {
        private readonly ChatContextRequest _request;
        private readonly CancellationTokenSource _stop;
        private readonly Task<ProviderDraft[]> _search;
        private bool _taken;

        public EarlySearch(ChatContextRequest request, CancellationTokenSource stop, Task<ProviderDraft[]> search)
        {
            _request = request;
            _stop = stop;
            _search = search;
            // Observed and released whatever happens to the turn; a stopped search's failure is expected.
            _ = search.ContinueWith(static (t, state) =>
            {
                _ = t.Exception;
                ((CancellationTokenSource)state!).Dispose();
            }, stop, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }

        public Task<ProviderDraft[]>? Take(ChatContextRequest request)
        {
            _taken = request == _request;
            return _taken ? _search : null;
        }

        public void Dispose()
        {
            if (!_taken && !_search.IsCompleted)
            {
                try
                {
                    _stop.Cancel();
                }
                catch (ObjectDisposedException)
                {
                    // The search ended between the check and the cancel.
                }
            }
        }
    }
}
