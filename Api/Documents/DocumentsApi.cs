using System.Globalization;
using AspireAi.Api.Auth;
using AspireAi.Core.Chat;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Documents;

/// <summary>
/// Documents for retrieval: upload (multipart file or JSON text, one or in bulk), status, chunks (citation targets),
/// search and delete. Uploads answer 202 and are ingested by the Workers; the server never fetches a URL.
/// Documents of other users (and of other organisations) are "not found" on every endpoint.
/// </summary>
public static class DocumentsApi
{
    private const int DefaultPageSize = 20;

    public static RouteGroupBuilder MapDocumentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/documents").WithTags("Documents").RequireAuthorization()
            .RequireScope(ApiKeyScopes.DocumentsRead, ApiKeyScopes.DocumentsWrite);
        group.MapPost("/", UploadDocument).DisableAntiforgery();
        group.MapPost("/bulk", UploadBatch).DisableAntiforgery();
        group.MapGet("/batches/{id:guid}", GetBatch);
        group.MapGet("/", ListDocuments);
        group.MapGet("/{id:guid}", GetDocument);
        group.MapDelete("/{id:guid}", DeleteDocument);
        group.MapGet("/{id:guid}/chunks", ListChunks);
        group.MapGet("/{id:guid}/chunks/{chunkId:guid}", GetChunk);
        group.MapPost("/search", SearchDocuments).ReadsOnly();
        return group;
    }

    /// <summary>
    /// Uploads one document: <c>multipart/form-data</c> with a <c>file</c> (txt, md, html, docx, pdf) and optional
    /// <c>title</c>, <c>scope</c>, <c>tags</c> (comma-separated) and <c>format</c>; or JSON text. 202 with the new
    /// document; 200 with the existing one when the same content is already in the scope.
    /// </summary>
    public static async Task<Results<Accepted<DocumentAcceptedResponse>, Ok<DocumentAcceptedResponse>, ValidationProblem, ProblemHttpResult>> UploadDocument(
        HttpContext http, CurrentUser user, DocumentStore store, IOptions<DocumentsOptions> options)
    {
        var limit = options.Value.MaxUploadBytes;
        if (DocumentUploadReader.TooLarge(http, limit + DocumentUploadReader.FormOverheadBytes) is { } tooLarge)
        {
            return tooLarge;
        }

        var read = await DocumentUploadReader.ReadUploadsAsync(http, user, limit, limit + DocumentUploadReader.FormOverheadBytes, single: true, options.Value.MaxBulkDocuments);
        if (read.Failed)
        {
            return read.Invalid is not null ? read.Invalid : read.Problem!;
        }

        var upload = await store.CreateAsync(user, read.Documents[0], http.RequestAborted);
        var response = new DocumentAcceptedResponse(upload.Id, upload.Status, upload.Title, upload.Duplicate);
        return upload.Duplicate && upload.Status != DocumentStatus.Queued
            ? TypedResults.Ok(response)
            : TypedResults.Accepted($"/v1/documents/{upload.Id}", response);
    }

    /// <summary>
    /// Uploads many documents as one batch (all stored or none): multipart with several files, or
    /// <c>{ "documents": [{title, text, format, tags}], "scope": "user|org" }</c>. Progress: <c>GET /v1/documents/batches/{id}</c>.
    /// </summary>
    public static async Task<Results<Accepted<BatchAcceptedResponse>, ValidationProblem, ProblemHttpResult>> UploadBatch(
        HttpContext http, CurrentUser user, DocumentStore store, IOptions<DocumentsOptions> options)
    {
        var settings = options.Value;
        if (DocumentUploadReader.TooLarge(http, settings.MaxBulkBytes + DocumentUploadReader.FormOverheadBytes) is { } tooLarge)
        {
            return tooLarge;
        }

        var read = await DocumentUploadReader.ReadUploadsAsync(http, user, settings.MaxUploadBytes, settings.MaxBulkBytes + DocumentUploadReader.FormOverheadBytes, single: false, settings.MaxBulkDocuments);
        if (read.Failed)
        {
            return read.Invalid is not null ? read.Invalid : read.Problem!;
        }

        var (batchId, uploads) = await store.CreateBatchAsync(user, read.Documents, http.RequestAborted);
        return TypedResults.Accepted($"/v1/documents/batches/{batchId}", new BatchAcceptedResponse(batchId, uploads.Count,
            [.. uploads.Select(u => new DocumentAcceptedResponse(u.Id, u.Status, u.Title, u.Duplicate))]));
    }

    public static async Task<Results<Ok<BatchResponse>, ProblemHttpResult>> GetBatch(Guid id, CurrentUser user, DocumentStore store, CancellationToken cancellationToken)
    {
        var batch = await store.GetBatchAsync(user, id, cancellationToken);
        return batch is null
            ? TypedResults.Problem(title: "Batch not found", detail: $"No document batch {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(new BatchResponse(batch.Id, batch.Total, batch.Counts, batch.Deleted, batch.Completed, batch.CreatedAt,
                [.. batch.Items.Select(i => new BatchItemResponse(i.Position, i.DocumentId, i.Title, i.Status, i.FailureReason, i.Duplicate))]));
    }

    /// <summary>The caller's documents and their organisation's, newest first, optionally by scope, status or tag.</summary>
    public static async Task<Results<Ok<PageResponse<DocumentResponse>>, ValidationProblem>> ListDocuments(
        CurrentUser user, DocumentStore store, CancellationToken cancellationToken, string? cursor = null, int? limit = null, string? scope = null,
        string? status = null, string? tag = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > DocumentStore.MaxPageSize)
        {
            errors["limit"] = [$"The limit must be between 1 and {DocumentStore.MaxPageSize}."];
        }

        if (scope is not null && !DocumentScope.IsValid(scope))
        {
            errors["scope"] = ["The scope must be 'user' or 'org'."];
        }

        if (status is not null && !DocumentStatus.IsValid(status))
        {
            errors["status"] = [$"The status must be one of: {string.Join(", ", DocumentStatus.All)}."];
        }

        (DateTimeOffset, Guid)? after = null;
        if (cursor is not null)
        {
            if (Cursor.TryDecode(cursor, 2, out var parts) && Cursor.TryDecodeTime(parts[0], out var createdAt) && Guid.TryParseExact(parts[1], "N", out var lastId))
            {
                after = (createdAt, lastId);
            }
            else
            {
                errors["cursor"] = ["The cursor is not valid. Use the nextCursor value of a previous page."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var page = await store.ListAsync(user, scope, status, tag?.Trim().ToLowerInvariant(), after, limit ?? DefaultPageSize, cancellationToken);
        return TypedResults.Ok(new PageResponse<DocumentResponse>([.. page.Items.Select(d => ToResponse(d, user))], page.NextCursor));
    }

    public static async Task<Results<Ok<DocumentResponse>, ProblemHttpResult>> GetDocument(Guid id, CurrentUser user, DocumentStore store, CancellationToken cancellationToken)
    {
        var document = await store.GetAsync(user, id, cancellationToken);
        return document is null ? NotFound(id) : TypedResults.Ok(ToResponse(document, user));
    }

    /// <summary>Deletes the document, its chunks and their embeddings. Organisation documents need an administrator.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteDocument(Guid id, CurrentUser user, DocumentStore store, CancellationToken cancellationToken) =>
        await store.DeleteAsync(user, id, cancellationToken) switch
        {
            DocumentDeleteResult.Deleted => TypedResults.NoContent(),
            DocumentDeleteResult.Forbidden => TypedResults.Problem(title: "Forbidden",
                detail: "Only an administrator can delete a document shared with the organisation.", statusCode: StatusCodes.Status403Forbidden),
            _ => NotFound(id),
        };

    public static async Task<Results<Ok<PageResponse<ChunkResponse>>, ProblemHttpResult, ValidationProblem>> ListChunks(
        Guid id, CurrentUser user, DocumentStore store, CancellationToken cancellationToken, string? cursor = null, int? limit = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > DocumentStore.MaxPageSize)
        {
            errors["limit"] = [$"The limit must be between 1 and {DocumentStore.MaxPageSize}."];
        }

        int? after = null;
        if (cursor is not null)
        {
            if (Cursor.TryDecode(cursor, 1, out var parts) && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out var ordinal))
            {
                after = ordinal;
            }
            else
            {
                errors["cursor"] = ["The cursor is not valid. Use the nextCursor value of a previous page."];
            }
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var page = await store.ListChunksAsync(user, id, after, limit ?? DefaultPageSize, cancellationToken);
        return page is null ? NotFound(id) : TypedResults.Ok(new PageResponse<ChunkResponse>([.. page.Items.Select(ToResponse)], page.NextCursor));
    }

    /// <summary>One chunk: the target of a citation link (document id + chunk id from <c>citations</c>).</summary>
    public static async Task<Results<Ok<ChunkResponse>, ProblemHttpResult>> GetChunk(Guid id, Guid chunkId, CurrentUser user, DocumentStore store, CancellationToken cancellationToken)
    {
        var chunk = await store.GetChunkAsync(user, id, chunkId, cancellationToken);
        return chunk is null
            ? TypedResults.Problem(title: "Chunk not found", detail: $"No chunk {chunkId} in a document {id} visible to the current user.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(ToResponse(chunk));
    }

    /// <summary>Hybrid search (vector + full text, reciprocal rank fusion) over the documents the caller may read.</summary>
    public static async Task<Results<Ok<SearchResponse>, ValidationProblem>> SearchDocuments(
        SearchDocumentsRequest request, CurrentUser user, DocumentRetriever retriever, IOptions<DocumentsOptions> options, CancellationToken cancellationToken)
    {
        var settings = options.Value.Retrieval;
        var errors = new Dictionary<string, string[]>();
        var query = request.Query?.Trim();
        if (string.IsNullOrEmpty(query))
        {
            errors["query"] = ["The query must not be empty."];
        }
        else if (query.Length > settings.MaxQueryChars)
        {
            errors["query"] = [$"The query is {query.Length} characters long; the limit is {settings.MaxQueryChars}."];
        }

        if (request.TopK is < 1 || request.TopK > settings.MaxTopK)
        {
            errors["topK"] = [$"topK must be between 1 and {settings.MaxTopK}."];
        }

        if (request.Scope is not null && !DocumentScope.IsValid(request.Scope))
        {
            errors["scope"] = ["The scope must be 'user' or 'org'."];
        }

        if (request.DocumentIds is { Count: > 100 })
        {
            errors["documentIds"] = ["At most 100 document ids."];
        }

        var tags = DocumentUploadReader.NormaliseTags(request.Tags, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var result = await retriever.SearchAsync(user.UserId, user.OrgId,
            new DocumentSearchRequest(query!, request.TopK ?? settings.TopK, request.DocumentIds, tags, request.Scope), cancellationToken);
        return TypedResults.Ok(new SearchResponse(query!, result.Model, result.LowConfidence, result.BestSimilarity, result.Threshold, result.LatencyMs,
            [.. result.Hits.Select(h => new SearchHitResponse(h.DocumentId, h.Title, h.ChunkId, h.Ordinal, h.Heading, h.Content, h.Similarity, h.Score,
                h.VectorRank, h.TextRank, h.FullTextMatch, h.Page))]));
    }

    internal static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "Document not found", detail: $"No document {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound);

    private static DocumentResponse ToResponse(DocumentRecord d, CurrentUser user) => new(
        d.Id, d.Title, d.Scope, d.Format, d.FileName, d.SizeBytes, d.Tags, d.Status, d.FailureReason, d.ChunkCount, d.EmbeddedChunks,
        d.EmbeddingModel, d.Metadata, d.Scope == DocumentScope.User || user.IsAdmin, d.CreatedAt, d.UpdatedAt, d.ReadyAt);

    private static ChunkResponse ToResponse(DocumentChunkRecord c) => new(c.Id, c.DocumentId, c.Ordinal, c.Heading, c.Content, c.TokenCount, c.EmbeddingModel);
}
