namespace AspireAi.Core.Identity;

/// <summary>
/// What an API key may do. Each endpoint group requires one scope (reads and writes of memories and documents
/// apart); a key without it gets 403 and the request does nothing. Signed-in sessions (access tokens) are not
/// scoped: they can do what their user can. A scope never widens a role: <see cref="Admin"/> still needs an admin.
/// </summary>
public static class ApiKeyScopes
{
    /// <summary>The claim type a key's scopes are carried in, one claim per scope.</summary>
    public const string ClaimType = "scope";

    /// <summary>Conversations, messages and chat (reading them and sending).</summary>
    public const string Chat = "chat";

    public const string MemoriesRead = "memories:read";

    public const string MemoriesWrite = "memories:write";

    public const string DocumentsRead = "documents:read";

    public const string DocumentsWrite = "documents:write";

    /// <summary>The /v1/admin endpoints (and only for an administrator's key).</summary>
    public const string Admin = "admin";

    public static IReadOnlyList<string> All { get; } = [Chat, MemoriesRead, MemoriesWrite, DocumentsRead, DocumentsWrite, Admin];

    public static bool IsKnown(string scope) => All.Contains(scope, StringComparer.Ordinal);
}
