using AspireAi.Core.Encryption;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace AspireAi.Api.Problems;

/// <summary>
/// Stored text that fails decryption (altered in the database, or under a key this process cannot unwrap) is a 500
/// that says so, rather than a generic error or, worse, made-up text. The message names the row and the key, never any
/// text; it is logged as an error because someone changed the database or the key configuration.
/// </summary>
internal sealed partial class EncryptedDataHandler(IProblemDetailsService problems, ILogger<EncryptedDataHandler> logger)
    : ProblemExceptionHandler(problems)
{
    protected override HandledProblem? Describe(HttpContext httpContext, Exception exception)
    {
        if (Find<EncryptedDataException>(exception) is not { } failed)
        {
            return null;
        }

        LogFailed(failed, httpContext.Request.Method, httpContext.Request.Path);
        return new HandledProblem(new ProblemDetails
        {
            Status = StatusCodes.Status500InternalServerError,
            Title = "Stored data failed its integrity check",
            Detail = failed.Message,
            Type = "https://tools.ietf.org/html/rfc9110#section-15.6.1",
        }, null);
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "{Method} {Path}: stored encrypted data could not be decrypted")]
    private partial void LogFailed(Exception exception, string method, string path);
}
