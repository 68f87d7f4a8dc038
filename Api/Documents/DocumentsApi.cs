using System.Globalization;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Core.Documents.Retrieval;
using AspireAi.Core.Identity;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
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
    private const int MaxTags = 20;
    private const int MaxTagLength = 50;
    private const int MaxTitleLength = 300;

    // Multipart boundaries, part headers and the small form fields around the file.
    private const long FormOverheadBytes = 64 * 1024;

    public static RouteGroupBuilder MapDocumentsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/documents").WithTags("Documents").RequireAuthorization();
        group.MapPost("/", UploadDocument).DisableAntiforgery();
        group.MapPost("/bulk", UploadBatch).DisableAntiforgery();
        group.MapGet("/batches/{id:guid}", GetBatch);
        group.MapGet("/", ListDocuments);
        group.MapGet("/{id:guid}", GetDocument);
        group.MapDelete("/{id:guid}", DeleteDocument);
        group.MapGet("/{id:guid}/chunks", ListChunks);
        group.MapGet("/{id:guid}/chunks/{chunkId:guid}", GetChunk);
        group.MapPost("/search", SearchDocuments);
        return group;
    }

    /// <summary>JSON upload of text: <c>{ "title": "...", "text": "...", "format": "txt|md|html", "scope": "user|org", "tags": [] }</c>.</summary>
    public sealed record CreateTextDocumentRequest(string? Title, string? Text, string? Format, string? Scope, IReadOnlyList<string>? Tags);

    /// <summary>JSON bulk upload: many texts into one scope.</summary>
    public sealed record BulkTextDocumentsRequest(IReadOnlyList<CreateTextDocumentRequest?>? Documents, string? Scope);

    public sealed record SearchDocumentsRequest(string? Query, int? TopK, IReadOnlyList<Guid>? DocumentIds, IReadOnlyList<string>? Tags, string? Scope);

    public sealed record DocumentAcceptedResponse(Guid Id, string Status, string Title, bool Duplicate);

    public sealed record BatchAcceptedResponse(Guid BatchId, int Total, IReadOnlyList<DocumentAcceptedResponse> Documents);

    public sealed record DocumentResponse(
        Guid Id, string Title, string Scope, string Format, string? FileName, long SizeBytes, IReadOnlyList<string> Tags, string Status,
        string? FailureReason, int ChunkCount, int EmbeddedChunks, string? EmbeddingModel, JsonElement Metadata, bool CanDelete,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ReadyAt);

    public sealed record ChunkResponse(Guid Id, Guid DocumentId, int Ordinal, string? Heading, string Content, int TokenCount, string EmbeddingModel);

    public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);

    public sealed record SearchHitResponse(
        Guid DocumentId, string Title, Guid ChunkId, int Ordinal, string? Heading, string Content, double? Similarity, double Score,
        int? VectorRank, int? TextRank, bool FullTextMatch, int? Page);

    public sealed record SearchResponse(
        string Query, string Model, bool LowConfidence, double? BestSimilarity, double Threshold, double LatencyMs, IReadOnlyList<SearchHitResponse> Results);

    public sealed record BatchItemResponse(int Position, Guid? DocumentId, string? Title, string Status, string? FailureReason, bool Duplicate);

    public sealed record BatchResponse(
        Guid Id, int Total, IReadOnlyDictionary<string, int> Counts, int Deleted, bool Completed, DateTimeOffset CreatedAt, IReadOnlyList<BatchItemResponse> Items);

    /// <summary>
    /// Uploads one document: <c>multipart/form-data</c> with a <c>file</c> (txt, md, html, docx, pdf) and optional
    /// <c>title</c>, <c>scope</c>, <c>tags</c> (comma-separated) and <c>format</c>; or JSON text. 202 with the new
    /// document; 200 with the existing one when the same content is already in the scope.
    /// </summary>
    public static async Task<Results<Accepted<DocumentAcceptedResponse>, Ok<DocumentAcceptedResponse>, ValidationProblem, ProblemHttpResult>> UploadDocument(
        HttpContext http, DocumentStore store, IOptions<DocumentsOptions> options)
    {
        var user = http.User.GetCurrentUser();
        var limit = options.Value.MaxUploadBytes;
        if (TooLarge(http, limit + FormOverheadBytes) is { } tooLarge)
        {
            return tooLarge;
        }

        var read = await ReadUploadsAsync(http, user, limit, limit + FormOverheadBytes, single: true, options.Value.MaxBulkDocuments);
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
        HttpContext http, DocumentStore store, IOptions<DocumentsOptions> options)
    {
        var user = http.User.GetCurrentUser();
        var settings = options.Value;
        if (TooLarge(http, settings.MaxBulkBytes + FormOverheadBytes) is { } tooLarge)
        {
            return tooLarge;
        }

        var read = await ReadUploadsAsync(http, user, settings.MaxUploadBytes, settings.MaxBulkBytes + FormOverheadBytes, single: false, settings.MaxBulkDocuments);
        if (read.Failed)
        {
            return read.Invalid is not null ? read.Invalid : read.Problem!;
        }

        var (batchId, uploads) = await store.CreateBatchAsync(user, read.Documents, http.RequestAborted);
        return TypedResults.Accepted($"/v1/documents/batches/{batchId}", new BatchAcceptedResponse(batchId, uploads.Count,
            [.. uploads.Select(u => new DocumentAcceptedResponse(u.Id, u.Status, u.Title, u.Duplicate))]));
    }

    public static async Task<Results<Ok<BatchResponse>, ProblemHttpResult>> GetBatch(Guid id, HttpContext http, DocumentStore store)
    {
        var batch = await store.GetBatchAsync(http.User.GetCurrentUser(), id, http.RequestAborted);
        return batch is null
            ? TypedResults.Problem(title: "Batch not found", detail: $"No document batch {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(new BatchResponse(batch.Id, batch.Total, batch.Counts, batch.Deleted, batch.Completed, batch.CreatedAt,
                [.. batch.Items.Select(i => new BatchItemResponse(i.Position, i.DocumentId, i.Title, i.Status, i.FailureReason, i.Duplicate))]));
    }

    /// <summary>The caller's documents and their organisation's, newest first, optionally by scope, status or tag.</summary>
    public static async Task<Results<Ok<PageResponse<DocumentResponse>>, ValidationProblem>> ListDocuments(
        HttpContext http, DocumentStore store, string? cursor = null, int? limit = null, string? scope = null, string? status = null, string? tag = null)
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

        var user = http.User.GetCurrentUser();
        var page = await store.ListAsync(user, scope, status, tag?.Trim().ToLowerInvariant(), after, limit ?? DefaultPageSize, http.RequestAborted);
        return TypedResults.Ok(new PageResponse<DocumentResponse>([.. page.Items.Select(d => ToResponse(d, user))], page.NextCursor));
    }

    public static async Task<Results<Ok<DocumentResponse>, ProblemHttpResult>> GetDocument(Guid id, HttpContext http, DocumentStore store)
    {
        var user = http.User.GetCurrentUser();
        var document = await store.GetAsync(user, id, http.RequestAborted);
        return document is null ? NotFound(id) : TypedResults.Ok(ToResponse(document, user));
    }

    /// <summary>Deletes the document, its chunks and their embeddings. Organisation documents need an administrator.</summary>
    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteDocument(Guid id, HttpContext http, DocumentStore store) =>
        await store.DeleteAsync(http.User.GetCurrentUser(), id, http.RequestAborted) switch
        {
            DocumentDeleteResult.Deleted => TypedResults.NoContent(),
            DocumentDeleteResult.Forbidden => TypedResults.Problem(title: "Forbidden",
                detail: "Only an administrator can delete a document shared with the organisation.", statusCode: StatusCodes.Status403Forbidden),
            _ => NotFound(id),
        };

    public static async Task<Results<Ok<PageResponse<ChunkResponse>>, ProblemHttpResult, ValidationProblem>> ListChunks(
        Guid id, HttpContext http, DocumentStore store, string? cursor = null, int? limit = null)
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

        var page = await store.ListChunksAsync(http.User.GetCurrentUser(), id, after, limit ?? DefaultPageSize, http.RequestAborted);
        return page is null ? NotFound(id) : TypedResults.Ok(new PageResponse<ChunkResponse>([.. page.Items.Select(ToResponse)], page.NextCursor));
    }

    /// <summary>One chunk: the target of a citation link (document id + chunk id from <c>citations</c>).</summary>
    public static async Task<Results<Ok<ChunkResponse>, ProblemHttpResult>> GetChunk(Guid id, Guid chunkId, HttpContext http, DocumentStore store)
    {
        var chunk = await store.GetChunkAsync(http.User.GetCurrentUser(), id, chunkId, http.RequestAborted);
        return chunk is null
            ? TypedResults.Problem(title: "Chunk not found", detail: $"No chunk {chunkId} in a document {id} visible to the current user.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(ToResponse(chunk));
    }

    /// <summary>Hybrid search (vector + full text, reciprocal rank fusion) over the documents the caller may read.</summary>
    public static async Task<Results<Ok<SearchResponse>, ValidationProblem>> SearchDocuments(
        SearchDocumentsRequest request, HttpContext http, DocumentRetriever retriever, IOptions<DocumentsOptions> options)
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

        var tags = NormaliseTags(request.Tags, errors);
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var user = http.User.GetCurrentUser();
        var result = await retriever.SearchAsync(user.UserId, user.OrgId,
            new DocumentSearchRequest(query!, request.TopK ?? settings.TopK, request.DocumentIds, tags, request.Scope), http.RequestAborted);
        return TypedResults.Ok(new SearchResponse(query!, result.Model, result.LowConfidence, result.BestSimilarity, result.Threshold, result.LatencyMs,
            [.. result.Hits.Select(h => new SearchHitResponse(h.DocumentId, h.Title, h.ChunkId, h.Ordinal, h.Heading, h.Content, h.Similarity, h.Score,
                h.VectorRank, h.TextRank, h.FullTextMatch, h.Page))]));
    }

    private sealed record ReadResult(IReadOnlyList<NewDocument> Documents, ValidationProblem? Invalid = null, ProblemHttpResult? Problem = null)
    {
        public bool Failed => Invalid is not null || Problem is not null;
    }

    private static ReadResult Fail(ValidationProblem invalid) => new([], Invalid: invalid);

    private static ReadResult Fail(ProblemHttpResult problem) => new([], Problem: problem);

    private static async Task<ReadResult> ReadUploadsAsync(HttpContext http, CurrentUser user, long maxDocumentBytes, long maxRequestBytes,
        bool single, int maxDocuments)
    {
        // Kestrel enforces the body limit while streaming (chunked bodies have no Content-Length to check first).
        if (http.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } bodyLimit)
        {
            bodyLimit.MaxRequestBodySize = maxRequestBytes;
        }

        var request = http.Request;
        if (request.HasFormContentType && request.ContentType!.StartsWith("multipart/form-data", StringComparison.OrdinalIgnoreCase))
        {
            return await ReadMultipartAsync(http, user, maxDocumentBytes, single, maxDocuments);
        }

        if (request.HasJsonContentType())
        {
            return await ReadJsonAsync(http, user, maxDocumentBytes, single, maxDocuments);
        }

        return Fail(TypedResults.Problem(
            title: "Unsupported media type",
            detail: "Send multipart/form-data with a 'file' field (txt, md, html, docx, pdf), or application/json with 'title' and 'text'.",
            statusCode: StatusCodes.Status415UnsupportedMediaType));
    }

    private static async Task<ReadResult> ReadMultipartAsync(HttpContext http, CurrentUser user, long maxDocumentBytes, bool single, int maxDocuments)
    {
        IFormCollection form;
        var formOptions = new FormOptions
        {
            MultipartBodyLengthLimit = maxDocumentBytes,
            // Counts fields and files together. (ValueLengthLimit would only bound url-encoded forms: a multipart
            // field is bounded by MultipartBodyLengthLimit, then by its own validation, e.g. the title's 300.)
            ValueCountLimit = 64 + maxDocuments,
        };
        try
        {
            http.Features.Set<IFormFeature>(new FormFeature(http.Request, formOptions));
            form = await http.Request.ReadFormAsync(http.RequestAborted);
        }
        catch (InvalidDataException ex) when (FormLimitProblem(ex, formOptions) is { } problem)
        {
            return Fail(problem);
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Fail(PayloadTooLarge($"The request body exceeds the upload limit ({ex.Message})."));
        }
        catch (Exception ex) when (ex is InvalidDataException or BadHttpRequestException or IOException)
        {
            // Also the framework's structural limits (header count and length, boundary, line length): its message names them.
            return Fail(TypedResults.Problem(title: "Malformed multipart body", detail: ex.Message, statusCode: StatusCodes.Status400BadRequest));
        }

        var errors = new Dictionary<string, string[]>();
        var scope = ReadScope(form["scope"].ToString(), errors);
        var tags = NormaliseTags(form["tags"].SelectMany(t => (t ?? "").Split(',')).ToList(), errors);
        var title = ReadTitle(single ? form["title"].ToString() : null, errors);
        var formatOverride = form["format"].ToString() is { Length: > 0 } f ? f.Trim().ToLowerInvariant() : null;
        if (formatOverride is not null && !DocumentFormats.IsValid(formatOverride))
        {
            errors["format"] = [$"The format must be one of: {DocumentFormats.Supported}."];
        }

        if (form.Files.Count == 0)
        {
            errors["file"] = ["Attach the document as a file field named 'file'."];
        }
        else if (single && form.Files.Count > 1)
        {
            errors["file"] = ["Attach exactly one file; use POST /v1/documents/bulk for several."];
        }
        else if (form.Files.Count > maxDocuments)
        {
            errors["files"] = [$"{form.Files.Count} files were sent; a batch holds at most {maxDocuments} (Documents:MaxBulkDocuments)."];
        }

        if (errors.Count > 0)
        {
            return Fail(TypedResults.ValidationProblem(errors));
        }

        if (ScopeRejection(scope, user) is { } forbidden)
        {
            return Fail(forbidden);
        }

        var documents = new List<NewDocument>();
        foreach (var file in form.Files)
        {
            // The client names the file: like a title it may carry control characters, and PostgreSQL text cannot
            // hold NUL (it failed the insert as a 500).
            var name = TextCleaner.OneLine(Path.GetFileName(file.FileName));
            if (file.Length > maxDocumentBytes)
            {
                return Fail(PayloadTooLarge($"'{name}' is {Size(file.Length)}; the limit is {Size(maxDocumentBytes)} (Documents:MaxUploadBytes)."));
            }

            var format = formatOverride ?? DocumentFormats.Detect(name, file.ContentType);
            if (format is null)
            {
                return Fail(TypedResults.Problem(title: "Unsupported document format",
                    detail: $"'{name}' ({file.ContentType}) is not a supported format. Supported formats: {DocumentFormats.Supported}.",
                    statusCode: StatusCodes.Status415UnsupportedMediaType,
                    extensions: new Dictionary<string, object?> { ["supportedFormats"] = DocumentFormats.All }));
            }

            if (file.Length == 0)
            {
                return Fail(TypedResults.ValidationProblem(new Dictionary<string, string[]> { [single ? "file" : "files"] = [$"'{name}' is empty."] }));
            }

            var content = new byte[file.Length];
            await using (var stream = file.OpenReadStream())
            {
                await stream.ReadExactlyAsync(content, http.RequestAborted);
            }

            documents.Add(new NewDocument(title, name is null ? null : Truncate(name, MaxTitleLength), format, content, scope, tags));
        }

        return new ReadResult(documents);
    }

    private static async Task<ReadResult> ReadJsonAsync(HttpContext http, CurrentUser user, long maxDocumentBytes, bool single, int maxDocuments)
    {
        IReadOnlyList<CreateTextDocumentRequest?> items;
        string? batchScope = null;
        // The Api's own JSON settings, as bound endpoints get them (they refuse NUL characters, for one).
        var json = http.RequestServices.GetRequiredService<IOptions<JsonOptions>>().Value.SerializerOptions;
        try
        {
            if (single)
            {
                items = [await http.Request.ReadFromJsonAsync<CreateTextDocumentRequest>(json, http.RequestAborted)
                    ?? throw new JsonException("The body is null.")];
            }
            else
            {
                var bulk = await http.Request.ReadFromJsonAsync<BulkTextDocumentsRequest>(json, http.RequestAborted)
                    ?? throw new JsonException("The body is null.");
                items = bulk.Documents ?? [];
                batchScope = bulk.Scope;
            }
        }
        catch (JsonException ex)
        {
            return Fail(TypedResults.ValidationProblem(JsonBodyErrors.Describe(ex, single ? typeof(CreateTextDocumentRequest) : typeof(BulkTextDocumentsRequest)),
                title: "Malformed JSON"));
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            return Fail(PayloadTooLarge($"The request body exceeds the upload limit ({ex.Message})."));
        }

        var errors = new Dictionary<string, string[]>();
        if (!single && items.Count == 0)
        {
            errors["documents"] = ["Send at least one document."];
        }
        else if (items.Count > maxDocuments)
        {
            errors["documents"] = [$"{items.Count} documents were sent; a batch holds at most {maxDocuments} (Documents:MaxBulkDocuments)."];
        }

        var scope = ReadScope(single ? items[0]!.Scope : batchScope, errors);
        var documents = new List<NewDocument>();
        for (var i = 0; i < items.Count && errors.Count == 0; i++)
        {
            var item = items[i];
            if (item is null)
            {
                // `[null]` binds to a null element; without this it reached the field reads below as a 500.
                errors[$"documents[{i}]"] = ["Each document must be an object with 'title' and 'text'; this one is null."];
                continue;
            }

            var prefix = single ? "" : $"documents[{i}].";
            var title = ReadTitle(item.Title, errors, prefix + "title");
            var tags = NormaliseTags(item.Tags, errors, prefix + "tags");
            var format = string.IsNullOrWhiteSpace(item.Format) ? DocumentFormats.Text : item.Format.Trim().ToLowerInvariant();
            if (format is not (DocumentFormats.Text or DocumentFormats.Markdown or DocumentFormats.Html))
            {
                errors[prefix + "format"] = ["A text upload's format must be txt, md or html; upload .docx files as multipart/form-data."];
            }

            if (string.IsNullOrWhiteSpace(item.Text))
            {
                errors[prefix + "text"] = ["The text must not be empty."];
                continue;
            }

            var content = Encoding.UTF8.GetBytes(item.Text);
            if (content.Length > maxDocumentBytes)
            {
                return Fail(PayloadTooLarge($"The text{(single ? "" : $" of documents[{i}]")} is {Size(content.Length)}; the limit is {Size(maxDocumentBytes)} (Documents:MaxUploadBytes)."));
            }

            documents.Add(new NewDocument(title, null, format, content, scope, tags));
        }

        if (errors.Count > 0)
        {
            return Fail(TypedResults.ValidationProblem(errors));
        }

        return ScopeRejection(scope, user) is { } forbidden ? Fail(forbidden) : new ReadResult(documents);
    }

    // The form reader reports its limits only as InvalidDataException messages ("Multipart body length limit 1000
    // exceeded.", "Form value count limit 164 exceeded.", "Multipart headers count limit 16 exceeded."). Only the body
    // length is the upload size (413); the others are a malformed request (400), and saying "the file is too large"
    // for them sent users looking in the wrong place.
    private static ProblemHttpResult? FormLimitProblem(InvalidDataException ex, FormOptions limits)
    {
        if (ex.Message.StartsWith("Multipart body length limit", StringComparison.OrdinalIgnoreCase))
        {
            return PayloadTooLarge($"A file or field exceeds the upload limit of {Size(limits.MultipartBodyLengthLimit)} (Documents:MaxUploadBytes).");
        }

        if (ex.Message.StartsWith("Form value count limit", StringComparison.OrdinalIgnoreCase))
        {
            return TypedResults.Problem(title: "Too many form fields",
                detail: $"The form holds more than {limits.ValueCountLimit} fields and files; send at most {limits.ValueCountLimit}.",
                statusCode: StatusCodes.Status400BadRequest);
        }

        return null;
    }

    private static ProblemHttpResult? TooLarge(HttpContext http, long maxBytes) =>
        http.Request.ContentLength is { } length && length > maxBytes
            ? PayloadTooLarge($"The request body is {Size(length)}; the limit is {Size(maxBytes)} (Documents:MaxUploadBytes / Documents:MaxBulkBytes).")
            : null;

    private static ProblemHttpResult PayloadTooLarge(string detail) =>
        TypedResults.Problem(title: "Payload too large", detail: detail, statusCode: StatusCodes.Status413PayloadTooLarge);

    private static string ReadScope(string? value, Dictionary<string, string[]> errors)
    {
        var scope = string.IsNullOrWhiteSpace(value) ? DocumentScope.User : value.Trim().ToLowerInvariant();
        if (!DocumentScope.IsValid(scope))
        {
            errors["scope"] = ["The scope must be 'user' (only you) or 'org' (everyone in your organisation; administrators only)."];
        }

        return scope;
    }

    private static ProblemHttpResult? ScopeRejection(string scope, CurrentUser user) =>
        scope == DocumentScope.Org && !user.IsAdmin
            ? TypedResults.Problem(title: "Forbidden", detail: "Only an administrator can add documents to the organisation's scope.",
                statusCode: StatusCodes.Status403Forbidden)
            : null;

    private static string? ReadTitle(string? value, Dictionary<string, string[]> errors, string field = "title")
    {
        var title = TextCleaner.OneLine(value);
        if (title is { Length: > MaxTitleLength })
        {
            errors[field] = [$"The title is {title.Length} characters long; the limit is {MaxTitleLength}."];
        }

        return title;
    }

    private static List<string> NormaliseTags(IEnumerable<string>? values, Dictionary<string, string[]> errors, string field = "tags")
    {
        var tags = (values ?? []).Select(t => (t ?? "").Trim().ToLowerInvariant()).Where(t => t.Length > 0).Distinct(StringComparer.Ordinal).ToList();
        if (tags.Count > MaxTags)
        {
            errors[field] = [$"At most {MaxTags} tags."];
        }
        else if (tags.FirstOrDefault(t => t.Length > MaxTagLength || t.Any(char.IsControl)) is { } bad)
        {
            errors[field] = [$"Tags have 1 to {MaxTagLength} printable characters; '{Truncate(bad, 60)}' does not."];
        }

        return tags;
    }

    private static string Size(long bytes) => bytes >= 1024 * 1024
        ? (bytes / (1024d * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MB"
        : bytes >= 1024 ? (bytes / 1024d).ToString("0.#", CultureInfo.InvariantCulture) + " KB" : bytes.ToString(CultureInfo.InvariantCulture) + " bytes";

    private static string Truncate(string text, int max) => text.Length <= max ? text : text[..max];

    internal static ProblemHttpResult NotFound(Guid id) =>
        TypedResults.Problem(title: "Document not found", detail: $"No document {id} exists for the current user.", statusCode: StatusCodes.Status404NotFound);

    private static DocumentResponse ToResponse(DocumentRecord d, CurrentUser user) => new(
        d.Id, d.Title, d.Scope, d.Format, d.FileName, d.SizeBytes, d.Tags, d.Status, d.FailureReason, d.ChunkCount, d.EmbeddedChunks,
        d.EmbeddingModel, d.Metadata, d.Scope == DocumentScope.User || user.IsAdmin, d.CreatedAt, d.UpdatedAt, d.ReadyAt);

    private static ChunkResponse ToResponse(DocumentChunkRecord c) => new(c.Id, c.DocumentId, c.Ordinal, c.Heading, c.Content, c.TokenCount, c.EmbeddingModel);
}
