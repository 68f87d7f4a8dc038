using AspireAi.Web.ApiClients;

namespace AspireAi.Web.Memories;

// What the live memory lists (the chat's panel, the memories page) do with the Api's memory event stream: read the
// list when subscribed and again on every change; while the stream is unavailable, read it now and then and try the
// stream again. Returns when cancelled (the page left) or when the user is signed out (401).
internal static class MemoryChangeFeed
{
    public const string Static = "static";
    public const string Stream = "stream";
    public const string Polling = "polling";

    // Only while the stream is unavailable: how often the list is read, and how long until the stream is tried again.
    public static readonly TimeSpan FallbackPoll = TimeSpan.FromSeconds(30);

    // refresh reads the list and renders it; mode is told Stream or Polling as that changes.
    public static async Task RunAsync(MemoryEventsClient events, Func<CancellationToken, Task> refresh, Action<string> mode,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(events);
        ArgumentNullException.ThrowIfNull(refresh);
        ArgumentNullException.ThrowIfNull(mode);
        while (!cancellationToken.IsCancellationRequested)
        {
            try
            {
                await foreach (var change in events.StreamAsync(cancellationToken))
                {
                    if (change is MemoryStreamEvent.Unavailable)
                    {
                        break;
                    }
                    if (change is MemoryStreamEvent.Ready)
                    {
                        mode(Stream);
                    }
                    // Ready: read once, in case something changed before the subscription; a change: read what it changed.
                    await refresh(cancellationToken);
                }
                mode(Polling);
                await Task.Delay(FallbackPoll, cancellationToken);
                await refresh(cancellationToken);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return;
            }
            catch (ApiException ex) when (ex.Problem.Status == StatusCodes.Status401Unauthorized)
            {
                // Signed out meanwhile: the server-rendered list stays as it was.
                return;
            }
            catch (Exception ex) when (ApiFailure.Describe(ex) is not null)
            {
                // The Api is unreachable: the list as it is stays correct, only older; try again later.
                mode(Polling);
                try
                {
                    await Task.Delay(FallbackPoll, cancellationToken);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }
        }
    }
}
