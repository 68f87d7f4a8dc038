using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using AspireAi.Core.Memory;

namespace AspireAi.Api.Memories;

/// <summary>What <see cref="MemoryRequestReader.ReadCreate"/> read from a valid <c>POST /v1/memories</c>.</summary>
internal sealed record CreateMemoryInput(bool Infer, string? Text, IReadOnlyList<MemoryMessageRequest> Messages, MemoryScope Scope, MemoryType? Type);

/// <summary>
/// The checks of the memory requests that depend on each other or on configuration (the fixed ones are attributes on
/// the contracts): each returns what it read and the errors keyed by the JSON field, for a 400 that names them all.
/// </summary>
internal static class MemoryRequestReader
{
    private const int DefaultPageSize = 20;
    private const int DefaultTopK = 10;
    private const int MaxTopK = 100;
    private const int MaxMessages = 50;
    private const int MaxMessageChars = 20_000;

    public static (CreateMemoryInput Input, Dictionary<string, string[]> Errors) ReadCreate(CreateMemoryRequest request, MemoryOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        var infer = request.Infer ?? true;
        var text = MemoryText.Clean(request.Text);
        var messages = request.Messages ?? [];
        if (text is null && messages.Count == 0)
        {
            errors["text"] = ["Send the memory as text, or messages to extract memories from."];
        }
        if (text is not null && messages.Count > 0)
        {
            errors["messages"] = ["Send either text or messages, not both."];
        }
        if (!infer && messages.Count > 0)
        {
            errors["messages"] = ["With infer=false the memory is stored as written: send it as text."];
        }
        if (messages.Count > MaxMessages)
        {
            errors["messages"] = [$"At most {MaxMessages} messages per request."];
        }
        for (var i = 0; i < Math.Min(messages.Count, MaxMessages); i++)
        {
            if (messages[i] is null)
            {
                errors[$"messages[{i}]"] = ["A message is required."];
                continue;
            }
            if (messages[i].Role is not ("user" or "assistant"))
            {
                errors[$"messages[{i}].role"] = ["The role must be 'user' or 'assistant'."];
            }
            if (string.IsNullOrWhiteSpace(messages[i].Content))
            {
                errors[$"messages[{i}].content"] = ["The content must not be empty."];
            }
            else if (messages[i].Content!.Length > MaxMessageChars)
            {
                errors[$"messages[{i}].content"] = [$"The content is {messages[i].Content!.Length} characters long; the limit is {MaxMessageChars}."];
            }
        }
        var scope = MemoryScope.User;
        if (request.Scope is not null && !MemoryNames.TryParseScope(request.Scope, out scope))
        {
            errors["scope"] = ["The scope must be one of user, session, agent, org."];
        }
        if (scope == MemoryScope.Session && string.IsNullOrEmpty(request.SessionId))
        {
            errors["sessionId"] = ["A session memory needs the sessionId (the chat uses the conversation id)."];
        }
        if (scope != MemoryScope.Session && request.SessionId is not null)
        {
            errors["sessionId"] = ["sessionId is only used with scope 'session'."];
        }
        if (scope == MemoryScope.Agent && string.IsNullOrEmpty(request.AgentId))
        {
            errors["agentId"] = ["An agent memory needs the agentId."];
        }
        MemoryType? type = null;
        if (request.Type is not null)
        {
            if (infer)
            {
                errors["type"] = ["The type is decided by extraction; set it only with infer=false."];
            }
            else if (MemoryNames.TryParseType(request.Type, out var parsed))
            {
                type = parsed;
            }
            else
            {
                errors["type"] = ["The type must be one of semantic, episodic, procedural."];
            }
        }
        if (request.ExpiresAt is { } expiresAt)
        {
            if (scope == MemoryScope.Session)
            {
                errors["expiresAt"] = ["A session memory expires with its session."];
            }
            else if (expiresAt <= DateTimeOffset.UtcNow)
            {
                errors["expiresAt"] = ["expiresAt must be in the future."];
            }
            else if (infer)
            {
                errors["expiresAt"] = ["expiresAt applies to infer=false only."];
            }
        }
        if (request.Metadata is { } metadata && metadata.ValueKind is not (JsonValueKind.Object or JsonValueKind.Null or JsonValueKind.Undefined))
        {
            errors["metadata"] = ["metadata must be a JSON object."];
        }
        if (!infer && text is not null)
        {
            var limit = options.MaxMemoryChars;
            if (text.Length > limit)
            {
                errors["text"] = [$"The text is {text.Length} characters long; a memory holds at most {limit}."];
            }
            else if (SecretDetector.Find(text) is { } kind)
            {
                errors["text"] = [$"The text looks like a secret ({kind.Replace('_', ' ')}); secrets are never stored in memory."];
            }
        }
        return (new CreateMemoryInput(infer, text, messages, scope, type), errors);
    }

    public static (string? Text, MemoryType? Type, Dictionary<string, string[]> Errors) ReadUpdate(UpdateMemoryRequest request, MemoryOptions options)
    {
        var errors = new Dictionary<string, string[]>();
        var text = MemoryText.Clean(request.Text);
        if (text is null)
        {
            errors["text"] = ["The text must not be empty."];
        }
        else if (text.Length > options.MaxMemoryChars)
        {
            errors["text"] = [$"The text is {text.Length} characters long; a memory holds at most {options.MaxMemoryChars}."];
        }
        else if (SecretDetector.Find(text) is { } kind)
        {
            errors["text"] = [$"The text looks like a secret ({kind.Replace('_', ' ')}); secrets are never stored in memory."];
        }
        MemoryType? type = null;
        if (request.Type is not null)
        {
            if (MemoryNames.TryParseType(request.Type, out var parsed))
            {
                type = parsed;
            }
            else
            {
                errors["type"] = ["The type must be one of semantic, episodic, procedural."];
            }
        }
        return (text, type, errors);
    }

    public static (int TopK, HashSet<MemoryScope> Scopes, HashSet<MemoryType> Types, Dictionary<string, string[]> Errors) ReadSearch(SearchMemoriesRequest request)
    {
        var errors = new Dictionary<string, string[]>();
        if (string.IsNullOrWhiteSpace(request.Query))
        {
            errors["query"] = ["The query must not be empty."];
        }
        if (request.TopK is not null && request.TopKAlias is not null && request.TopK != request.TopKAlias)
        {
            errors["topK"] = ["topK and top_k disagree; send one of them."];
        }
        var topK = request.TopK ?? request.TopKAlias ?? DefaultTopK;
        if (topK is < 1 or > MaxTopK)
        {
            errors[request.TopKAlias is not null && request.TopK is null ? "top_k" : "topK"] = [$"topK must be between 1 and {MaxTopK}."];
        }
        var scopes = ParseNames<MemoryScope>(request.Filters?.Scope, MemoryNames.TryParseScope, "filters.scope", "user, session, agent, org", errors);
        var types = ParseNames<MemoryType>(request.Filters?.Type, MemoryNames.TryParseType, "filters.type", "semantic, episodic, procedural", errors);
        return (topK, scopes, types, errors);
    }

    public static (MemoryListFilter Filter, (DateTimeOffset, Guid)? After, int Size, Dictionary<string, string[]> Errors) ReadListQuery(
        string? scope, string? type, string? entity, string? from, string? to, string? asOf, bool? includeInvalidated, string? sessionId,
        string? agentId, string? cursor, int? limit)
    {
        var errors = new Dictionary<string, string[]>();
        var scopes = ParseList<MemoryScope>(scope, MemoryNames.TryParseScope, "scope", "user, session, agent, org", errors);
        var types = ParseList<MemoryType>(type, MemoryNames.TryParseType, "type", "semantic, episodic, procedural", errors);
        var createdFrom = ParseTime(from, "from", errors);
        var createdTo = ParseTime(to, "to", errors);
        var validAt = ParseTime(asOf, "asOf", errors);
        if (createdFrom is { } f && createdTo is { } t && f >= t)
        {
            errors["to"] = ["'to' must be after 'from'."];
        }
        if (entity is { Length: > 200 })
        {
            errors["entity"] = ["The entity name is at most 200 characters."];
        }
        var size = limit ?? DefaultPageSize;
        if (size is < 1 or > MemoryStore.MaxPageSize)
        {
            errors["limit"] = [$"The limit must be between 1 and {MemoryStore.MaxPageSize}."];
        }
        (DateTimeOffset, Guid)? after = null;
        if (cursor is not null)
        {
            if (Cursor.TryDecode(cursor, 2, out var parts) && Cursor.TryDecodeTime(parts[0], out var createdAt) && Guid.TryParseExact(parts[1], "N", out var id))
            {
                after = (createdAt, id);
            }
            else
            {
                errors["cursor"] = ["The cursor is not valid. Use the nextCursor value of a previous page."];
            }
        }
        var filter = new MemoryListFilter(scopes, types, string.IsNullOrWhiteSpace(entity) ? null : entity, createdFrom, createdTo,
            validAt, includeInvalidated == true, sessionId, agentId);
        return (filter, after, size, errors);
    }

    private delegate bool NameParser<T>(string? text, out T value);

    private static HashSet<T> ParseList<T>(string? text, NameParser<T> parse, string field, string allowed, Dictionary<string, string[]> errors)
    {
        var set = new HashSet<T>();
        if (string.IsNullOrWhiteSpace(text))
        {
            return set;
        }
        foreach (var name in text.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            if (parse(name, out var value))
            {
                set.Add(value);
            }
            else
            {
                errors[field] = [$"'{name}' is not one of {allowed}."];
            }
        }
        return set;
    }

    private static HashSet<T> ParseNames<T>(JsonElement? value, NameParser<T> parse, string field, string allowed, Dictionary<string, string[]> errors)
    {
        switch (value)
        {
            case null or { ValueKind: JsonValueKind.Null or JsonValueKind.Undefined }:
                return [];
            case { ValueKind: JsonValueKind.String } single:
                return ParseList(single.GetString(), parse, field, allowed, errors);
            case { ValueKind: JsonValueKind.Array } list when list.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                return ParseList(string.Join(',', list.EnumerateArray().Select(e => e.GetString())), parse, field, allowed, errors);
            default:
                errors[field] = [$"Give one of {allowed}, or a list of them."];
                return [];
        }
    }

    private static DateTimeOffset? ParseTime(string? text, string field, Dictionary<string, string[]> errors)
    {
        if (string.IsNullOrWhiteSpace(text))
        {
            return null;
        }
        if (DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out var value))
        {
            return value;
        }
        errors[field] = ["Give an ISO 8601 date and time, e.g. 2026-01-31T12:00:00Z."];
        return null;
    }
}
