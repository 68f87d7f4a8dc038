using System.Globalization;
using System.Text;
using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Http;
using Microsoft.AspNetCore.Antiforgery;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.AspNetCore.WebUtilities;
using Microsoft.Extensions.Options;
using Microsoft.Net.Http.Headers;

namespace AspireAi.Web.Documents;

// POST /app/documents: the documents page's file upload form (multipart, no script needed). The file is read
// section by section and streamed to the Api as it arrives, never held whole in Web. Then back to the page
// (303): with the new document's id, or with the reason it was refused in DocumentsFlash.
internal static partial class DocumentUploadEndpoint
{
    public const string Path = "/app/documents";

    // The form's small fields (antiforgery token, title, scope) and the multipart framing around the file.
    private const long FormOverheadBytes = 64 * 1024;
    private const int MaxFieldBytes = 4 * 1024;
    private const int MaxFields = 16;

    // How far past the limit an upload is still read to the end (and thrown away) to answer it politely.
    private const int DrainFactor = 4;

    public static RouteHandlerBuilder MapDocumentUpload(this IEndpointRouteBuilder app) =>
        app.MapPost(Path, UploadAsync).RequireAuthorization();

    private static async Task<IResult> UploadAsync(
        HttpContext context,
        IAntiforgery antiforgery,
        IOptions<AntiforgeryOptions> antiforgeryOptions,
        DocumentUploadClient uploads,
        DocumentsFlash flash,
        IOptions<DocumentsUiOptions> options,
        ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger(typeof(DocumentUploadEndpoint).FullName!);
        var request = context.Request;
        var aborted = context.RequestAborted;
        var limit = options.Value.MaxUploadBytes;

        // A body whose Content-Length is over the limit is refused once the form's fields are read (the file never is).
        // Kestrel then reads and discards the rest (for a few seconds, up to its body size cap), so a browser still
        // sending gets to see the redirect instead of a reset connection; the cap is raised to let it, within reason.
        var maxBody = limit + FormOverheadBytes;
        var tooLong = request.ContentLength > maxBody;
        if (tooLong && request.ContentLength > DrainFactor * maxBody)
        {
            // Far too big to wait for: the connection ends after this answer anyway.
            return TypedResults.Problem(statusCode: StatusCodes.Status413PayloadTooLarge, title: "Payload too large",
                detail: $"The upload is larger than the limit of {Size(limit)}.");
        }

        SetMaxBodySize(context, tooLong ? request.ContentLength!.Value : maxBody);

        if (!MediaTypeHeaderValue.TryParse(request.ContentType, out var mediaType)
            || !mediaType.MediaType.Equals("multipart/form-data", StringComparison.OrdinalIgnoreCase)
            || HeaderUtilities.RemoveQuotes(mediaType.Boundary).Value is not { Length: > 0 } boundary)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status415UnsupportedMediaType, title: "Unsupported media type",
                detail: "Post the upload form as multipart/form-data.");
        }

        var reader = new MultipartReader(boundary, request.Body);
        var fields = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        MultipartSection? file = null;
        string? fileName = null;
        try
        {
            // The page's form puts the file last, so the token, title and scope are known before the file streams.
            while (await reader.ReadNextSectionAsync(aborted) is { } section)
            {
                if (!ContentDispositionHeaderValue.TryParse(section.ContentDisposition, out var disposition))
                {
                    continue;
                }

                if (disposition.IsFileDisposition())
                {
                    file = section;
                    fileName = System.IO.Path.GetFileName(HeaderUtilities.RemoveQuotes(
                        disposition.FileNameStar.HasValue ? disposition.FileNameStar : disposition.FileName).Value);
                    break;
                }

                if (!disposition.IsFormDisposition())
                {
                    continue;
                }

                var name = HeaderUtilities.RemoveQuotes(disposition.Name).Value ?? string.Empty;
                var value = await ReadFieldAsync(section.Body, aborted);
                if (value is null || fields.Count >= MaxFields)
                {
                    return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed upload form",
                        detail: "The form has too many or too long fields.");
                }

                fields[name] = value;
            }
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or BadHttpRequestException && !aborted.IsCancellationRequested)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest, title: "Malformed upload form", detail: ex.Message);
        }

        // The token is a form field here, but reading the whole form to let antiforgery find it would spool the file
        // to disk first. Handed over as the header antiforgery looks at before the form, it is checked right away.
        // Without either, antiforgery would go on to read the form, whose start this endpoint has already consumed.
        if (fields.TryGetValue(antiforgeryOptions.Value.FormFieldName, out var token) && !request.Headers.ContainsKey(AntiforgeryValidationFilter.HeaderName))
        {
            request.Headers[AntiforgeryValidationFilter.HeaderName] = token;
        }

        if (!request.Headers.ContainsKey(AntiforgeryValidationFilter.HeaderName) || !await antiforgery.IsRequestValidAsync(context))
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status400BadRequest,
                title: "The antiforgery token is missing or invalid.", detail: "Reload the page and try again.");
        }

        var title = fields.GetValueOrDefault("title")?.Trim();
        var scope = fields.GetValueOrDefault("scope")?.Trim();
        if (file is null || string.IsNullOrEmpty(fileName))
        {
            return Back(context, flash, Problem(StatusCodes.Status400BadRequest, "Choose a file to upload."));
        }

        if (tooLong)
        {
            return Back(context, flash, TooLarge(fileName, limit));
        }

        var content = new LimitedReadStream(file.Body, limit);
        try
        {
            var accepted = await uploads.UploadAsync(context, new DocumentFileUpload(fileName, file.ContentType, title, scope, content), aborted);
            var query = $"uploaded={accepted.Id}" + (accepted.Duplicate ? "&duplicate=true" : string.Empty);
            return SeeOther(context, $"{request.PathBase}/documents?{query}");
        }
        catch (Exception) when (content.Exceeded)
        {
            // Sending stopped at the limit, so the Api saw a broken request and stored nothing.
            return Back(context, flash, TooLarge(fileName, limit));
        }
        catch (Exception ex) when (ApiFailure.Describe(ex) is { } problem && !aborted.IsCancellationRequested)
        {
            if (problem.Status == StatusCodes.Status401Unauthorized)
            {
                return SeeOther(context, $"{request.PathBase}{AccountApi.SignInPath}?returnUrl={Uri.EscapeDataString("/documents")}");
            }

            if (ex is not ApiException)
            {
                LogUploadFailed(logger, ex.GetType().Name);
            }

            return Back(context, flash, problem);
        }
    }

    private static StatusCodeHttpResult Back(HttpContext context, DocumentsFlash flash, ApiProblem problem)
    {
        flash.Set(context, problem);
        return SeeOther(context, $"{context.Request.PathBase}/documents");
    }

    // 303: the browser follows with a GET, so reloading the page it lands on never posts the file again.
    private static StatusCodeHttpResult SeeOther(HttpContext context, string location)
    {
        context.Response.Headers.Location = location;
        return TypedResults.StatusCode(StatusCodes.Status303SeeOther);
    }

    // Kestrel's own cap (30 MB by default) is replaced by this endpoint's: the limit it answers for itself.
    private static void SetMaxBodySize(HttpContext context, long bytes)
    {
        if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } feature)
        {
            feature.MaxRequestBodySize = bytes;
        }
    }

    private static ApiProblem TooLarge(string fileName, long limit) =>
        Problem(StatusCodes.Status413PayloadTooLarge, $"'{fileName}' is larger than the upload limit of {Size(limit)}.");

    private static ApiProblem Problem(int status, string detail) =>
        new(status, null, detail, null, null, new Dictionary<string, string[]>(), null);

    private static async Task<string?> ReadFieldAsync(Stream body, CancellationToken cancellationToken)
    {
        var buffer = new byte[MaxFieldBytes + 1];
        var total = 0;
        int read;
        while (total < buffer.Length && (read = await body.ReadAsync(buffer.AsMemory(total), cancellationToken)) > 0)
        {
            total += read;
        }

        return total > MaxFieldBytes ? null : Encoding.UTF8.GetString(buffer, 0, total);
    }

    internal static string Size(long bytes) => bytes >= 1024 * 1024
        ? (bytes / (1024d * 1024)).ToString("0.#", CultureInfo.InvariantCulture) + " MB"
        : bytes >= 1024 ? (bytes / 1024d).ToString("0.#", CultureInfo.InvariantCulture) + " KB" : bytes.ToString(CultureInfo.InvariantCulture) + " bytes";

    [LoggerMessage(Level = LogLevel.Warning, Message = "A document upload could not be sent to the Api ({Error})")]
    private static partial void LogUploadFailed(ILogger logger, string error);
}
