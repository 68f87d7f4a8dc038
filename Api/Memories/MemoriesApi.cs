using AspireAi.Api.Auth;
using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using AspireAi.Core.Identity;
using AspireAi.Core.Memory;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Memories;

/// <summary>
/// <c>/v1/memories</c>: the caller's long-term memory. Reads show the caller's own (user and session) memories and
/// the organisation's shared (agent and org) ones; only administrators write shared ones (403). A memory of another
/// user is 404 on every endpoint.
/// </summary>
public static class MemoriesApi
{
    private const int DefaultPageSize = 20;
    private const int DefaultTopK = 10;
    private const int MaxTopK = 100;
    private const int MaxMessages = 50;
    private const int MaxMessageChars = 20_000;
    private const string DefaultAgent = "default";

    public static RouteGroupBuilder MapMemoriesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/memories").WithTags("Memories").RequireAuthorization()
            .RequireScope(ApiKeyScopes.MemoriesRead, ApiKeyScopes.MemoriesWrite);
        group.MapPost("/", CreateMemory);
        group.MapPost("/search", SearchMemories).ReadsOnly();
        group.MapGet("/", ListMemories);
        group.MapGet("/export", ExportMemories);
        group.MapDelete("/", EraseMemories);
        group.MapGet("/{id:guid}", GetMemory);
        group.MapPut("/{id:guid}", UpdateMemory);
        group.MapDelete("/{id:guid}", DeleteMemory);
        group.MapGet("/{id:guid}/history", GetHistory);
        group.MapGet("/extractions/{sourceId:guid}", GetExtraction);

        // The administrators' memory browser: every user's memories in the organisation, each look audited.
        var admin = app.MapGroup("/v1/admin/memories").WithTags("Memories").RequireAuthorization(AspireAiPolicies.Admin)
            .RequireScope(ApiKeyScopes.Admin);
        admin.MapGet("/", ListMemoriesForAdmin);
        admin.MapGet("/{id:guid}", GetMemoryForAdmin);
        return group;
    }

    public static async Task<Results<Created<MemoryWriteResponse>, Ok<MemoryWriteResponse>, Accepted<MemoryExtractionAccepted>, ValidationProblem, ProblemHttpResult>>
        CreateMemory(CreateMemoryRequest request, HttpContext http, MemoryService memories, IOptions<MemoryOptions> options)
    {
        ArgumentNullException.ThrowIfNull(request);
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
            var limit = options.Value.MaxMemoryChars;
            if (text.Length > limit)
            {
                errors["text"] = [$"The text is {text.Length} characters long; a memory holds at most {limit}."];
            }
            else if (SecretDetector.Find(text) is { } kind)
            {
                errors["text"] = [$"The text looks like a secret ({kind.Replace('_', ' ')}); secrets are never stored in memory."];
            }
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var user = http.User.GetCurrentUser();
        var caller = Caller(user);
        var target = scope switch
        {
            MemoryScope.Session => MemoryScopeRef.ForSession(user.OrgId, user.UserId, request.SessionId!),
            MemoryScope.Agent => MemoryScopeRef.ForAgent(user.OrgId, request.AgentId!),
            MemoryScope.Org => MemoryScopeRef.ForOrg(user.OrgId),
            _ => MemoryScopeRef.ForUser(user.OrgId, user.UserId),
        };
        if (!MemoryService.CanWrite(caller, target))
        {
            return Forbidden($"Only administrators write {MemoryNames.Of(scope)} memories: they are shared with every user of the organisation.");
        }
        var metadataElement = request.Metadata is { ValueKind: JsonValueKind.Object } m ? m : (JsonElement?)null;

        if (infer)
        {
            var input = messages.Count > 0 ? messages.Select(x => (x.Role!, x.Content!)).ToList() : [("user", text!)];
            var ticket = await memories.RequestExtractionAsync(caller, target, request.AgentId ?? DefaultAgent, input, metadataElement, http.RequestAborted);
            return TypedResults.Accepted($"/v1/memories/extractions/{ticket.SourceId}",
                new MemoryExtractionAccepted(ticket.JobId, ticket.SourceId, ticket.JobId is null ? "skipped" : "queued"));
        }

        var memory = new NewMemory(text!, type ?? MemoryType.Semantic, (float)(request.Importance ?? 0.5), OfflineFactExtractor.Entities(text!),
            request.ExpiresAt, metadataElement);
        var result = await memories.StoreAsync(caller, target, memory, MemoryActor.Api, "api", http.RequestAborted);
        var response = MemoryWriteResponse.From(result);
        return result.Operation == MemoryOperation.Add
            ? TypedResults.Created($"/v1/memories/{result.Memory!.Id}", response)
            : TypedResults.Ok(response);
    }

    public static async Task<Results<Ok<MemorySearchResponse>, ValidationProblem>> SearchMemories(
        SearchMemoriesRequest request, HttpContext http, MemoryRetriever retriever, MemoryMetrics metrics)
    {
        ArgumentNullException.ThrowIfNull(request);
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
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var user = http.User.GetCurrentUser();
        var result = await retriever.SearchAsync(new MemoryQuery(user.UserId, user.OrgId, request.Query!, topK, scopes, types,
            request.Filters?.AgentId ?? DefaultAgent, request.Filters?.SessionId), http.RequestAborted);
        metrics.Retrieved(result.Elapsed, "search", result.Items.Count, 0);
        var explain = request.Explain == true;
        return TypedResults.Ok(new MemorySearchResponse(
            [.. result.Items.Select(i => new MemorySearchHit(i.Id, MemoryNames.Of(i.Scope), MemoryNames.Of(i.Type), i.Text, i.Importance, i.AgentId,
                i.SessionId, i.CreatedAt, i.UpdatedAt, Math.Round(i.Score, 6), explain ? i.Breakdown : null))],
            result.EmbeddingModel, result.Candidates, Math.Round(result.Elapsed.TotalMilliseconds, 2)));
    }

    public static async Task<Results<Ok<MemoryPageResponse>, ValidationProblem>> ListMemories(
        HttpContext http, MemoryStore store, string? scope = null, string? type = null, string? entity = null, string? from = null,
        string? to = null, string? asOf = null, bool? includeInvalidated = null, string? sessionId = null, string? agentId = null,
        string? cursor = null, int? limit = null)
    {
        var (filter, after, size, errors) = ParseListQuery(scope, type, entity, from, to, asOf, includeInvalidated, sessionId, agentId, cursor, limit);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var page = await store.ListAsync(Caller(http.User.GetCurrentUser()), filter, after, size, http.RequestAborted);
        return TypedResults.Ok(new MemoryPageResponse([.. page.Items.Select(MemoryResponse.From)], page.NextCursor));
    }

    public static async Task<Results<Ok<MemoryPageResponse>, ValidationProblem>> ListMemoriesForAdmin(
        HttpContext http, MemoryStore store, Guid? userId = null, string? scope = null, string? type = null, string? entity = null,
        string? from = null, string? to = null, string? asOf = null, bool? includeInvalidated = null, string? sessionId = null,
        string? agentId = null, string? cursor = null, int? limit = null)
    {
        var (filter, after, size, errors) = ParseListQuery(scope, type, entity, from, to, asOf, includeInvalidated, sessionId, agentId, cursor, limit);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var admin = http.User.GetCurrentUser();
        var page = await store.ListForAdminAsync(admin.OrgId, userId, filter, after, size, http.RequestAborted);
        await store.AuditAdminViewAsync(admin.UserId, "list", userId, null, page.Items.Count, http.RequestAborted);
        return TypedResults.Ok(new MemoryPageResponse([.. page.Items.Select(m => MemoryResponse.From(m) with { OwnerUserId = m.UserId })], page.NextCursor));
    }

    /// <summary>A memory of the organisation with the history of all its versions.</summary>
    public static async Task<Results<Ok<AdminMemoryResponse>, ProblemHttpResult>> GetMemoryForAdmin(Guid id, HttpContext http, MemoryStore store)
    {
        var admin = http.User.GetCurrentUser();
        if (await store.GetForAdminAsync(admin.OrgId, id, http.RequestAborted) is not { } memory)
        {
            return TypedResults.Problem(title: "Memory not found", detail: $"No memory {id} exists in your organisation.", statusCode: StatusCodes.Status404NotFound);
        }
        var history = await store.LineageHistoryAsync(memory, http.RequestAborted);
        await store.AuditAdminViewAsync(admin.UserId, "memory", memory.UserId, id, 1, http.RequestAborted);
        return TypedResults.Ok(new AdminMemoryResponse(MemoryResponse.From(memory), memory.UserId, [.. history.Select(MemoryHistoryItem.From)]));
    }

    private static (MemoryListFilter Filter, (DateTimeOffset, Guid)? After, int Size, Dictionary<string, string[]> Errors) ParseListQuery(
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

    public static async Task<Results<Ok<MemoryResponse>, ProblemHttpResult>> GetMemory(Guid id, HttpContext http, MemoryStore store)
    {
        var memory = await store.GetAsync(Caller(http.User.GetCurrentUser()), id, http.RequestAborted);
        return memory is null ? NotFound(id) : TypedResults.Ok(MemoryResponse.From(memory));
    }

    public static async Task<Results<Ok<MemoryWriteResponse>, ValidationProblem, ProblemHttpResult>> UpdateMemory(
        Guid id, UpdateMemoryRequest request, HttpContext http, MemoryService memories, IOptions<MemoryOptions> options)
    {
        ArgumentNullException.ThrowIfNull(request);
        var errors = new Dictionary<string, string[]>();
        var text = MemoryText.Clean(request.Text);
        if (text is null)
        {
            errors["text"] = ["The text must not be empty."];
        }
        else if (text.Length > options.Value.MaxMemoryChars)
        {
            errors["text"] = [$"The text is {text.Length} characters long; a memory holds at most {options.Value.MaxMemoryChars}."];
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
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var change = await memories.UpdateAsync(Caller(http.User.GetCurrentUser()), id, text!, type, (float?)request.Importance, http.RequestAborted);
        return change.Status switch
        {
            MemoryChangeStatus.Done => TypedResults.Ok(MemoryWriteResponse.From(change.Result!)),
            MemoryChangeStatus.NotFound => NotFound(id),
            MemoryChangeStatus.Forbidden => Forbidden("Only administrators change shared (agent and org) memories."),
            MemoryChangeStatus.NotCurrent => TypedResults.Problem(title: "Not the current version",
                detail: $"Memory {id} was superseded or deleted; change the current version instead.", statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["currentId"] = change.CurrentId }),
            _ => TypedResults.Problem(title: "Duplicate memory",
                detail: $"Memory {change.ConflictingId} already says this.", statusCode: StatusCodes.Status409Conflict,
                extensions: new Dictionary<string, object?> { ["conflictingId"] = change.ConflictingId }),
        };
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteMemory(Guid id, HttpContext http, MemoryService memories)
    {
        var change = await memories.DeleteAsync(Caller(http.User.GetCurrentUser()), id, http.RequestAborted);
        return change.Status switch
        {
            MemoryChangeStatus.Done => TypedResults.NoContent(),
            MemoryChangeStatus.Forbidden => Forbidden("Only administrators delete shared (agent and org) memories."),
            _ => NotFound(id),
        };
    }

    public static async Task<Results<Ok<MemoryHistoryResponse>, ProblemHttpResult>> GetHistory(Guid id, HttpContext http, MemoryStore store)
    {
        var caller = Caller(http.User.GetCurrentUser());
        var memory = await store.GetAsync(caller, id, http.RequestAborted);
        var history = memory is null ? null : await store.HistoryAsync(caller, id, http.RequestAborted);
        return history is null ? NotFound(id) : TypedResults.Ok(new MemoryHistoryResponse(id, memory!.LineageId, [.. history.Select(MemoryHistoryItem.From)]));
    }

    /// <summary>Where an extraction request (the 202 of <c>POST /v1/memories</c> points here) stands; only its owner may ask.</summary>
    public static async Task<Results<Ok<MemoryExtractionStatusResponse>, ProblemHttpResult>> GetExtraction(Guid sourceId, HttpContext http, MemoryService memories)
    {
        var status = await memories.GetExtractionAsync(Caller(http.User.GetCurrentUser()), sourceId, http.RequestAborted);
        return status is null
            ? TypedResults.Problem(title: "Extraction not found", detail: $"No memory extraction {sourceId} exists for the current user.",
                statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(new MemoryExtractionStatusResponse(status.SourceId, status.Status, status.Reason, status.Facts,
                status.Operations, status.Attempts, status.CreatedAt, status.ProcessedAt));
    }

    public static async Task<Ok<MemoryExportResponse>> ExportMemories(HttpContext http, MemoryStore store)
    {
        var user = http.User.GetCurrentUser();
        var export = await store.ExportAsync(user.UserId, http.RequestAborted);
        // Every memory and its history: no browser or proxy keeps a copy.
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"memories-{export.ExportedAt.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.json\"";
        return TypedResults.Ok(new MemoryExportResponse(export.UserId, export.ExportedAt, [.. export.Memories.Select(MemoryResponse.From)],
            [.. export.History.Select(MemoryHistoryItem.From)]));
    }

    public static async Task<Ok<MemoryErasureResponse>> EraseMemories(HttpContext http, MemoryStore store)
    {
        var erased = await store.EraseAsync(http.User.GetCurrentUser().UserId, http.RequestAborted);
        return TypedResults.Ok(new MemoryErasureResponse(erased.Memories, erased.History, erased.EntityLinks, erased.Entities, erased.Sources, erased.RedisKeys));
    }

    private static MemoryCaller Caller(CurrentUser user) => new(user.UserId, user.OrgId, user.IsAdmin);

    // TypedResults.Problem so that the body goes out as application/problem+json.
    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "Memory not found", detail: $"No memory {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(title: "Not allowed", detail: detail, statusCode: StatusCodes.Status403Forbidden);

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
