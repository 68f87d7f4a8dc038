using System.ComponentModel;
using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Common;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Identity;
using AspireAi.Core.Memory;
using Microsoft.Extensions.Options;
using ModelContextProtocol.Protocol;
using ModelContextProtocol.Server;

namespace AspireAi.Api.Mcp;

/// <summary>
/// The tools of the MCP server. Every call acts as the authenticated caller of the HTTP request it came in (the same
/// bearer tokens and API keys as the rest of the Api): memories and documents are searched, listed and changed
/// through the services the REST endpoints use, with the same ownership checks, so another user's data is never
/// reachable. Failures are tool results with <c>isError</c>, which a model can read and recover from.
/// </summary>
[McpServerToolType]
public sealed class AspireAiMcpTools(
    IHttpContextAccessor httpContext, MemoryRetriever memories, MemoryService memoryService, DocumentRetriever documents, DocumentStore documentStore,
    IOptions<MemoryOptions> memoryOptions, TimeProvider time)
{
    private const string DefaultAgent = "default";

    private CurrentUser Caller => httpContext.HttpContext?.User is { } principal && principal.TryGetCurrentUser(out var user)
        ? user
        : throw new InvalidOperationException("An MCP tool ran outside an authenticated request.");

    private CancellationToken Aborted => httpContext.HttpContext?.RequestAborted ?? CancellationToken.None;

    // The same least privilege as the REST endpoints: an API key needs the scope of what the tool does; a signed-in
    // session is not scoped. Refused before anything is read or written.
    private CallToolResult? MissingScope(string scope) =>
        httpContext.HttpContext?.User is { } principal && principal.HasClaim(c => c.Type == AspireAiClaims.ApiKeyId)
            && !principal.HasClaim(ApiKeyScopes.ClaimType, scope)
            ? Error($"This API key lacks the '{scope}' scope; nothing was done. Create a key with that scope to use this tool.")
            : null;

    [McpServerTool(Name = "search_memories", Title = "Search memories", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false)]
    [Description("Searches the caller's long-term memory (facts, preferences, instructions) and the organisation's shared memories; best matches first.")]
    public async Task<CallToolResult> SearchMemoriesAsync(
        [Description("What to look for, in a few words.")] string query,
        [Description("Most results to return, 1 to 50 (default 10).")] int limit = 10)
    {
        if (MissingScope(ApiKeyScopes.MemoriesRead) is { } refused)
        {
            return refused;
        }
        if (string.IsNullOrWhiteSpace(query))
        {
            return Error("'query' must not be empty.");
        }
        if (limit is < 1 or > 50)
        {
            return Error("'limit' must be between 1 and 50.");
        }
        var user = Caller;
        var result = await memories.SearchAsync(new MemoryQuery(user.UserId, user.OrgId, query, limit, new HashSet<MemoryScope>(), new HashSet<MemoryType>(),
            DefaultAgent, null), Aborted);
        return Json(new
        {
            memories = result.Items.Select(m => new
            {
                id = m.Id,
                text = m.Text,
                type = MemoryNames.Of(m.Type),
                scope = MemoryNames.Of(m.Scope),
                importance = m.Importance,
                score = Math.Round(m.Score, 4),
                updatedAt = m.UpdatedAt,
            }),
        });
    }

    [McpServerTool(Name = "add_memory", Title = "Add a memory", ReadOnly = false, Destructive = false, Idempotent = true, OpenWorld = false)]
    [Description("Stores a fact, preference or instruction in the caller's long-term memory, as written. Storing the same text again changes nothing.")]
    public async Task<CallToolResult> AddMemoryAsync(
        [Description("The memory, one short sentence.")] string text,
        [Description("semantic (a fact or preference, default), episodic (an event) or procedural (how to answer).")] string? type = null,
        [Description("From 0 (trivia) to 1 (identity, work, health); default 0.5.")] double? importance = null)
    {
        if (MissingScope(ApiKeyScopes.MemoriesWrite) is { } refused)
        {
            return refused;
        }
        var (clean, problem) = CheckText(text);
        if (problem is not null)
        {
            return Error(problem);
        }
        var memoryType = MemoryType.Semantic;
        if (type is not null && !MemoryNames.TryParseType(type, out memoryType))
        {
            return Error("'type' must be one of semantic, episodic, procedural.");
        }
        if (importance is < 0 or > 1)
        {
            return Error("'importance' must be between 0 and 1.");
        }
        var user = Caller;
        var result = await memoryService.StoreAsync(new MemoryCaller(user.UserId, user.OrgId, user.IsAdmin), MemoryScopeRef.ForUser(user.OrgId, user.UserId),
            new NewMemory(clean!, memoryType, (float)(importance ?? 0.5), OfflineFactExtractor.Entities(clean!)), MemoryActor.User, "mcp", Aborted);
        return Json(new { operation = MemoryNames.Of(result.Operation), id = result.Memory?.Id, text = result.Memory?.Text, reason = result.Reason });
    }

    [McpServerTool(Name = "update_memory", Title = "Update a memory", ReadOnly = false, Destructive = true, Idempotent = true, OpenWorld = false)]
    [Description("Replaces the text of one of the caller's memories; the old version is kept in its history. Returns the id of the new version.")]
    public async Task<CallToolResult> UpdateMemoryAsync(
        [Description("The memory's id, from search_memories.")] string id,
        [Description("The new text, one short sentence.")] string text)
    {
        if (MissingScope(ApiKeyScopes.MemoriesWrite) is { } refused)
        {
            return refused;
        }
        if (!Guid.TryParse(id, out var memoryId))
        {
            return Error("'id' must be a memory id (a UUID).");
        }
        var (clean, problem) = CheckText(text);
        if (problem is not null)
        {
            return Error(problem);
        }
        var user = Caller;
        var change = await memoryService.UpdateAsync(new MemoryCaller(user.UserId, user.OrgId, user.IsAdmin), memoryId, clean!, null, null, Aborted);
        return change.Status == MemoryChangeStatus.Done
            ? Json(new { operation = "UPDATE", id = change.Result!.Memory?.Id, previousId = memoryId, text = change.Result.Memory?.Text })
            : Error(Refusal(change, memoryId));
    }

    [McpServerTool(Name = "delete_memory", Title = "Delete a memory", ReadOnly = false, Destructive = true, Idempotent = true, OpenWorld = false)]
    [Description("Deletes one of the caller's memories. Deleting a memory that is already gone succeeds.")]
    public async Task<CallToolResult> DeleteMemoryAsync([Description("The memory's id, from search_memories.")] string id)
    {
        if (MissingScope(ApiKeyScopes.MemoriesWrite) is { } refused)
        {
            return refused;
        }
        if (!Guid.TryParse(id, out var memoryId))
        {
            return Error("'id' must be a memory id (a UUID).");
        }
        var user = Caller;
        var change = await memoryService.DeleteAsync(new MemoryCaller(user.UserId, user.OrgId, user.IsAdmin), memoryId, Aborted);
        return change.Status == MemoryChangeStatus.Done ? Json(new { operation = "DELETE", id = memoryId }) : Error(Refusal(change, memoryId));
    }

    [McpServerTool(Name = "search_documents", Title = "Search documents", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false)]
    [Description("Searches the passages of the caller's documents and the organisation's shared documents (hybrid vector and full-text search). Cite a passage by its documentId and page.")]
    public async Task<CallToolResult> SearchDocumentsAsync(
        [Description("What to look for.")] string query,
        [Description("Most passages to return, 1 to 20 (default 5).")] int limit = 5)
    {
        if (MissingScope(ApiKeyScopes.DocumentsRead) is { } refused)
        {
            return refused;
        }
        if (string.IsNullOrWhiteSpace(query))
        {
            return Error("'query' must not be empty.");
        }
        if (limit is < 1 or > 20)
        {
            return Error("'limit' must be between 1 and 20.");
        }
        var user = Caller;
        var result = await documents.SearchAsync(user.UserId, user.OrgId, new DocumentSearchRequest(query, limit, Source: "tool"), Aborted);
        return Json(new
        {
            lowConfidence = result.LowConfidence,
            passages = result.Hits.Select(h => new
            {
                documentId = h.DocumentId,
                chunkId = h.ChunkId,
                title = h.Title,
                heading = h.Heading,
                page = h.Page,
                content = h.Content,
                score = Math.Round(h.Score, 4),
            }),
        });
    }

    [McpServerTool(Name = "list_documents", Title = "List documents", ReadOnly = true, Destructive = false, Idempotent = true, OpenWorld = false)]
    [Description("Lists the caller's documents and the organisation's shared ones, newest first, with their ingestion status.")]
    public async Task<CallToolResult> ListDocumentsAsync(
        [Description("Most documents to return, 1 to 100 (default 20).")] int limit = 20)
    {
        if (MissingScope(ApiKeyScopes.DocumentsRead) is { } refused)
        {
            return refused;
        }
        if (limit is < 1 or > 100)
        {
            return Error("'limit' must be between 1 and 100.");
        }
        var page = await documentStore.ListAsync(Caller, scope: null, status: null, tag: null, after: null, limit, Aborted);
        return Json(new
        {
            documents = page.Items.Select(d => new
            {
                id = d.Id,
                title = d.Title,
                scope = d.Scope,
                format = d.Format,
                status = d.Status,
                chunkCount = d.ChunkCount,
                tags = d.Tags,
                createdAt = d.CreatedAt,
            }),
            more = page.NextCursor is not null,
        });
    }

    [McpServerTool(Name = "current_time", Title = "Current time", ReadOnly = true, Destructive = false, Idempotent = false, OpenWorld = false)]
    [Description("The current date and time, in UTC or in an IANA time zone such as Europe/Lisbon.")]
    public CallToolResult CurrentTime([Description("An IANA time zone id; UTC when left out.")] string? timeZone = null)
    {
        var now = time.GetUtcNow();
        if (string.IsNullOrWhiteSpace(timeZone))
        {
            return Json(new { timeZone = "UTC", now = now.ToString("O", CultureInfo.InvariantCulture), dayOfWeek = now.DayOfWeek.ToString() });
        }
        if (!TimeZoneInfo.TryFindSystemTimeZoneById(timeZone, out var zone))
        {
            return Error($"'{timeZone}' is not a known time zone; use an IANA id such as Europe/Lisbon.");
        }
        var local = TimeZoneInfo.ConvertTime(now, zone);
        return Json(new { timeZone = zone.Id, now = local.ToString("O", CultureInfo.InvariantCulture), dayOfWeek = local.DayOfWeek.ToString() });
    }

    private (string? Text, string? Problem) CheckText(string? text)
    {
        var clean = MemoryText.Clean(text);
        var limit = memoryOptions.Value.MaxMemoryChars;
        return clean is null ? (null, "'text' must not be empty.")
            : clean.Length > limit ? (null, $"'text' is {clean.Length} characters long; a memory holds at most {limit}.")
            : SecretDetector.Find(clean) is { } kind ? (null, $"'text' looks like a secret ({kind.Replace('_', ' ')}); secrets are never stored in memory.")
            : (clean, null);
    }

    private static string Refusal(MemoryChange change, Guid id) => change.Status switch
    {
        MemoryChangeStatus.NotFound => $"No memory {id} of yours exists.",
        MemoryChangeStatus.Forbidden => $"Memory {id} is shared with the organisation; only administrators change it.",
        MemoryChangeStatus.NotCurrent => $"Memory {id} is an old version; change the current one ({change.CurrentId}).",
        MemoryChangeStatus.Duplicate => $"Another memory ({change.ConflictingId}) already says this.",
        _ => $"Memory {id} was not changed.",
    };

    private static CallToolResult Json(object value)
    {
        var element = JsonSerializer.SerializeToElement(value, JsonSerializerOptions.Web);
        return new CallToolResult { Content = [new TextContentBlock { Text = element.GetRawText() }], StructuredContent = element };
    }

    private static CallToolResult Error(string message) => new() { IsError = true, Content = [new TextContentBlock { Text = message }] };
}
