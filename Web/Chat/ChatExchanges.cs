namespace AspireAi.Web.Chat;

// Circuit-scoped: the interactive components of one page share a circuit, so the conversation can tell the memory
// panel beside it that an exchange finished (and the Workers are about to extract from it).
internal sealed class ChatExchanges
{
    public event Action? Completed;

    public void NotifyCompleted() => Completed?.Invoke();
}
