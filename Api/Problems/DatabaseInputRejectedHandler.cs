using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspireAi.Api.Problems;

/// <summary>
/// The last line of defence for input that validation let through but PostgreSQL cannot store (a NUL character in
/// jsonb, a number beyond numeric's range, text in an encoding it refuses): the caller sent it, so it is a 400 that
/// says what the database objected to, not a 500. The statement failed, so its transaction rolled back and nothing
/// was written. Each one is logged as a warning: it means an endpoint's validation has a hole worth closing.
/// </summary>
internal sealed partial class DatabaseInputRejectedHandler(IProblemDetailsService problems, ILogger<DatabaseInputRejectedHandler> logger)
    : ProblemExceptionHandler(problems)
{
    protected override HandledProblem? Describe(HttpContext httpContext, Exception exception)
    {
        if (Find<PostgresException>(exception) is not { } postgres || !IsInputError(postgres.SqlState))
        {
            return null;
        }

        LogRejected(postgres, httpContext.Request.Method, httpContext.Request.Path, postgres.SqlState);
        return new HandledProblem(new ProblemDetails
        {
            Status = StatusCodes.Status400BadRequest,
            Title = "The request holds a value that cannot be stored",
            // MessageText is the server's short reason ("unsupported Unicode escape sequence"); it carries no
            // query text or parameters of other requests.
            Detail = $"{postgres.MessageText}. Nothing was changed.",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.5.1",
        }, null);
    }

    // Class 22 (data exception) codes that only input can cause; the rest of the class (division by zero, …)
    // would be our bug and stays a 500.
    internal static bool IsInputError(string sqlState) => sqlState is
        "22P05" // untranslatable character (\u0000 in jsonb)
        or "22021" // character not in repertoire (NUL in text)
        or "22003" // numeric value out of range
        or "22001" // string data right truncation
        or "22007" or "22008" // invalid datetime format, datetime field overflow
        or "22P02"; // invalid text representation

    [LoggerMessage(Level = LogLevel.Warning, Message = "{Method} {Path}: the database refused a value of the request ({SqlState}); validation should have caught it")]
    private partial void LogRejected(Exception exception, string method, string path, string sqlState);
}
