using System.Globalization;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Documents;
using AspireAi.Core.Documents.Parsing;
using AspireAi.Core.Identity;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.Http.Json;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Documents;

/// <summary>Turns an upload request (multipart files or JSON text, one or a batch) into the documents to store.</summary>
internal static class DocumentUploadReader
{
    private const int MaxTags = 20;
    private const int MaxTagLength = 50;
    private const int MaxTitleLength = 300;

    // Multipart boundaries, part headers and the small form fields around the file.
    public const long FormOverheadBytes = 64 * 1024;

    internal sealed record ReadResult(IReadOnlyList<NewDocument> Documents, ValidationProblem? Invalid = null, ProblemHttpResult? Problem = null)
    {
        public bool Failed => Invalid is not null || Problem is not null;
    }

    private static ReadResult Fail(ValidationProblem invalid) => new([], Invalid: invalid);

    private static ReadResult Fail(ProblemHttpResult problem) => new([], Problem: problem);

    /// <summary>
    /// Reads the upload as multipart (files and form fields) or JSON text, enforcing the size and count limits while
    /// streaming; every refusal is a ProblemDetails that names the field or the limit.
    /// </summary>
    public static async Task<ReadResult> ReadUploadsAsync(HttpContext http, CurrentUser user, long maxDocumentBytes, long maxRequestBytes,
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

    public static ProblemHttpResult? TooLarge(HttpContext http, long maxBytes) =>
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

    public static List<string> NormaliseTags(IEnumerable<string>? values, Dictionary<string, string[]> errors, string field = "tags")
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
}
