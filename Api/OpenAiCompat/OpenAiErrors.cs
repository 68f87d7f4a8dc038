using System.Text.Json;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.OpenAiCompat;

/// <summary>
/// Errors of the OpenAI-compatible endpoints in OpenAI's body shape, with the status codes OpenAI uses; OpenAI's
/// SDKs read <c>error.message</c> and <c>error.code</c> from it.
/// </summary>
internal static class OpenAiErrors
{
    /// <summary>Paths answered in OpenAI's shapes, errors included.</summary>
    private static readonly PathString[] Paths = ["/v1/chat/completions", "/v1/embeddings", "/v1/models"];

    public static bool IsOpenAiPath(PathString path) => Paths.Any(p => path.StartsWithSegments(p, StringComparison.OrdinalIgnoreCase));

    public static JsonHttpResult<OpenAiErrorResponse> Result(int status, string message, string? param = null, string? code = null) =>
        TypedResults.Json(Body(status, message, param, code), statusCode: status);

    public static OpenAiErrorResponse Body(int status, string message, string? param = null, string? code = null) =>
        new(new OpenAiError(message, TypeOf(status, code), param, code ?? DefaultCode(status)));

    public static JsonHttpResult<OpenAiErrorResponse> Invalid(string param, string message) =>
        Result(StatusCodes.Status400BadRequest, message, param, "invalid_value");

    private static string TypeOf(int status, string? code) => status switch
    {
        StatusCodes.Status401Unauthorized => "authentication_error",
        StatusCodes.Status403Forbidden => "permission_error",
        StatusCodes.Status404NotFound => "invalid_request_error",
        StatusCodes.Status429TooManyRequests => code == "insufficient_quota" ? "insufficient_quota" : "rate_limit_error",
        >= 500 => "server_error",
        _ => "invalid_request_error",
    };

    private static string? DefaultCode(int status) => status switch
    {
        StatusCodes.Status401Unauthorized => "invalid_api_key",
        StatusCodes.Status429TooManyRequests => "rate_limit_exceeded",
        _ => null,
    };
}

/// <summary>
/// Turns the ProblemDetails that the shared pipeline writes (401/403 from authentication, 429 from rate limiting,
/// 500 from the exception handler) into OpenAI's error shape on the OpenAI-compatible paths, so a client of those
/// paths sees one error format whoever refused it.
/// </summary>
internal sealed class OpenAiProblemWriter : IProblemDetailsWriter
{
    public bool CanWrite(ProblemDetailsContext context) => OpenAiErrors.IsOpenAiPath(context.HttpContext.Request.Path);

    public ValueTask WriteAsync(ProblemDetailsContext context)
    {
        var problem = context.ProblemDetails;
        var status = problem.Status ?? context.HttpContext.Response.StatusCode;
        string message;
        string? param = null;
        if (problem is HttpValidationProblemDetails { Errors.Count: > 0 } validation)
        {
            param = validation.Errors.Keys.First();
            message = string.Join(" ", validation.Errors.SelectMany(e => e.Value));
        }
        else
        {
            message = problem.Detail ?? problem.Title ?? "The request failed.";
        }
        var response = context.HttpContext.Response;
        response.ContentType = "application/json";
        return new ValueTask(response.WriteAsync(JsonSerializer.Serialize(OpenAiErrors.Body(status, message, param)), context.HttpContext.RequestAborted));
    }
}
