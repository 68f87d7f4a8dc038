using System.Globalization;
using System.Text.Json;
using AspireAi.Api.Auth;
using AspireAi.Core.Audit;
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
    private const string DefaultAgent = "default";

    public static RouteGroupBuilder MapMemoriesApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/memories").WithTags("Memories").RequireAuthorization()
            .RequireScope(ApiKeyScopes.MemoriesRead, ApiKeyScopes.MemoriesWrite);
        group.MapPost("/", CreateMemory);
        group.MapPost("/search", SearchMemories).ReadsOnly();
        group.MapGet("/", ListMemories);
        group.MapGet("/export", ExportMemories);
        group.MapGet("/events", MemoryEventsStream.StreamAsync)
            .Produces(StatusCodes.Status200OK, contentType: "text/event-stream");
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
        CreateMemory(CreateMemoryRequest request, CurrentUser user, MemoryService memories, IOptions<MemoryOptions> options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (read, errors) = MemoryRequestReader.ReadCreate(request, options.Value);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var (infer, text, messages, scope, type) = read;
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
            var exchange = messages.Count > 0 ? messages.Select(x => (x.Role!, x.Content!)).ToList() : [("user", text!)];
            var ticket = await memories.RequestExtractionAsync(caller, target, request.AgentId ?? DefaultAgent, exchange, metadataElement, cancellationToken);
            return TypedResults.Accepted($"/v1/memories/extractions/{ticket.SourceId}",
                new MemoryExtractionAccepted(ticket.JobId, ticket.SourceId, ticket.JobId is null ? "skipped" : "queued"));
        }

        var memory = new NewMemory(text!, type ?? MemoryType.Semantic, (float)(request.Importance ?? 0.5), OfflineFactExtractor.Entities(text!),
            request.ExpiresAt, metadataElement);
        var result = await memories.StoreAsync(caller, target, memory, MemoryActor.Api, "api", cancellationToken);
        var response = MemoryWriteResponse.From(result);
        return result.Operation == MemoryOperation.Add
            ? TypedResults.Created($"/v1/memories/{result.Memory!.Id}", response)
            : TypedResults.Ok(response);
    }

    public static async Task<Results<Ok<MemorySearchResponse>, ValidationProblem>> SearchMemories(
        SearchMemoriesRequest request, CurrentUser user, MemoryRetriever retriever, MemoryMetrics metrics, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (topK, scopes, types, errors) = MemoryRequestReader.ReadSearch(request);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var result = await retriever.SearchAsync(new MemoryQuery(user.UserId, user.OrgId, request.Query!, topK, scopes, types,
            request.Filters?.AgentId ?? DefaultAgent, request.Filters?.SessionId), cancellationToken);
        metrics.Retrieved(result.Elapsed, "search", result.Items.Count, 0);
        var explain = request.Explain == true;
        return TypedResults.Ok(new MemorySearchResponse(
            [.. result.Items.Select(i => new MemorySearchHit(i.Id, MemoryNames.Of(i.Scope), MemoryNames.Of(i.Type), i.Text, i.Importance, i.AgentId,
                i.SessionId, i.CreatedAt, i.UpdatedAt, Math.Round(i.Score, 6), explain ? i.Breakdown : null))],
            result.EmbeddingModel, result.Candidates, Math.Round(result.Elapsed.TotalMilliseconds, 2)));
    }

    public static async Task<Results<Ok<MemoryPageResponse>, ValidationProblem>> ListMemories(
        CurrentUser user, MemoryStore store, CancellationToken cancellationToken, string? scope = null, string? type = null, string? entity = null, string? from = null,
        string? to = null, string? asOf = null, bool? includeInvalidated = null, string? sessionId = null, string? agentId = null,
        string? cursor = null, int? limit = null)
    {
        var (filter, after, size, errors) = MemoryRequestReader.ReadListQuery(scope, type, entity, from, to, asOf, includeInvalidated, sessionId, agentId, cursor, limit);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var page = await store.ListAsync(Caller(user), filter, after, size, cancellationToken);
        return TypedResults.Ok(new MemoryPageResponse([.. page.Items.Select(MemoryResponse.From)], page.NextCursor));
    }

    public static async Task<Results<Ok<MemoryPageResponse>, ValidationProblem>> ListMemoriesForAdmin(
        CurrentUser admin, MemoryStore store, CancellationToken cancellationToken, Guid? userId = null, string? scope = null, string? type = null, string? entity = null,
        string? from = null, string? to = null, string? asOf = null, bool? includeInvalidated = null, string? sessionId = null,
        string? agentId = null, string? cursor = null, int? limit = null)
    {
        var (filter, after, size, errors) = MemoryRequestReader.ReadListQuery(scope, type, entity, from, to, asOf, includeInvalidated, sessionId, agentId, cursor, limit);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var page = await store.ListForAdminAsync(admin.OrgId, userId, filter, after, size, cancellationToken);
        await store.AuditAdminViewAsync(admin.UserId, "list", userId, null, page.Items.Count, cancellationToken);
        return TypedResults.Ok(new MemoryPageResponse([.. page.Items.Select(m => MemoryResponse.From(m) with { OwnerUserId = m.UserId })], page.NextCursor));
    }

    /// <summary>A memory of the organisation with the history of all its versions.</summary>
    public static async Task<Results<Ok<AdminMemoryResponse>, ProblemHttpResult>> GetMemoryForAdmin(Guid id, CurrentUser admin, MemoryStore store, CancellationToken cancellationToken)
    {
        if (await store.GetForAdminAsync(admin.OrgId, id, cancellationToken) is not { } memory)
        {
            return TypedResults.Problem(title: "Memory not found", detail: $"No memory {id} exists in your organisation.", statusCode: StatusCodes.Status404NotFound);
        }
        var history = await store.LineageHistoryAsync(memory, cancellationToken);
        await store.AuditAdminViewAsync(admin.UserId, "memory", memory.UserId, id, 1, cancellationToken);
        return TypedResults.Ok(new AdminMemoryResponse(MemoryResponse.From(memory), memory.UserId, [.. history.Select(MemoryHistoryItem.From)]));
    }

    public static async Task<Results<Ok<MemoryResponse>, ProblemHttpResult>> GetMemory(Guid id, CurrentUser user, MemoryStore store, CancellationToken cancellationToken)
    {
        var memory = await store.GetAsync(Caller(user), id, cancellationToken);
        return memory is null ? NotFound(id) : TypedResults.Ok(MemoryResponse.From(memory));
    }

    public static async Task<Results<Ok<MemoryWriteResponse>, ValidationProblem, ProblemHttpResult>> UpdateMemory(
        Guid id, UpdateMemoryRequest request, CurrentUser user, MemoryService memories, IOptions<MemoryOptions> options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var (text, type, errors) = MemoryRequestReader.ReadUpdate(request, options.Value);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var change = await memories.UpdateAsync(Caller(user), id, text!, type, (float?)request.Importance, cancellationToken);
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

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteMemory(Guid id, CurrentUser user, MemoryService memories, CancellationToken cancellationToken)
    {
        var change = await memories.DeleteAsync(Caller(user), id, cancellationToken);
        return change.Status switch
        {
            MemoryChangeStatus.Done => TypedResults.NoContent(),
            MemoryChangeStatus.Forbidden => Forbidden("Only administrators delete shared (agent and org) memories."),
            _ => NotFound(id),
        };
    }

    public static async Task<Results<Ok<MemoryHistoryResponse>, ProblemHttpResult>> GetHistory(Guid id, CurrentUser user, MemoryStore store, CancellationToken cancellationToken)
    {
        var caller = Caller(user);
        var memory = await store.GetAsync(caller, id, cancellationToken);
        var history = memory is null ? null : await store.HistoryAsync(caller, id, cancellationToken);
        return history is null ? NotFound(id) : TypedResults.Ok(new MemoryHistoryResponse(id, memory!.LineageId, [.. history.Select(MemoryHistoryItem.From)]));
    }

    /// <summary>Where an extraction request (the 202 of <c>POST /v1/memories</c> points here) stands; only its owner may ask.</summary>
    public static async Task<Results<Ok<MemoryExtractionStatusResponse>, ProblemHttpResult>> GetExtraction(Guid sourceId, CurrentUser user, MemoryService memories, CancellationToken cancellationToken)
    {
        var status = await memories.GetExtractionAsync(Caller(user), sourceId, cancellationToken);
        return status is null
            ? TypedResults.Problem(title: "Extraction not found", detail: $"No memory extraction {sourceId} exists for the current user.",
                statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(new MemoryExtractionStatusResponse(status.SourceId, status.Status, status.Reason, status.Facts,
                status.Operations, status.Attempts, status.CreatedAt, status.ProcessedAt));
    }

    public static async Task<Ok<MemoryExportResponse>> ExportMemories(HttpContext http, CurrentUser user, MemoryStore store, AuditLog audit)
    {
        var export = await store.ExportAsync(user.UserId, http.RequestAborted);
        await audit.AppendAsync(user.UserId, AuditLog.MemoryExported, "user", user.UserId.ToString(), new Dictionary<string, string?>
        {
            ["memories"] = export.Memories.Count.ToString(CultureInfo.InvariantCulture),
            ["history"] = export.History.Count.ToString(CultureInfo.InvariantCulture),
        }, http.RequestAborted);
        // Every memory and its history: no browser or proxy keeps a copy.
        http.Response.Headers.CacheControl = "no-store";
        http.Response.Headers.ContentDisposition = $"attachment; filename=\"memories-{export.ExportedAt.ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.json\"";
        return TypedResults.Ok(new MemoryExportResponse(export.UserId, export.ExportedAt, [.. export.Memories.Select(MemoryResponse.From)],
            [.. export.History.Select(MemoryHistoryItem.From)]));
    }

    public static async Task<Ok<MemoryErasureResponse>> EraseMemories(CurrentUser user, MemoryStore store, CancellationToken cancellationToken)
    {
        var erased = await store.EraseAsync(user.UserId, cancellationToken);
        return TypedResults.Ok(new MemoryErasureResponse(erased.Memories, erased.History, erased.EntityLinks, erased.Entities, erased.Sources, erased.RedisKeys));
    }

    private static MemoryCaller Caller(CurrentUser user) => new(user.UserId, user.OrgId, user.IsAdmin);

    // TypedResults.Problem so that the body goes out as application/problem+json.
    private static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "Memory not found", detail: $"No memory {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound);

    private static ProblemHttpResult Forbidden(string detail) =>
        TypedResults.Problem(title: "Not allowed", detail: detail, statusCode: StatusCodes.Status403Forbidden);
}
