using System.Net.Sockets;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspireAi.Api.Problems;

/// <summary>
/// An unreachable database is an outage, not a bug: the caller gets a 503 ProblemDetails with Retry-After, which
/// clients and the resilience handler know to retry, instead of an opaque 500.
/// </summary>
internal sealed partial class DatabaseUnavailableHandler(IProblemDetailsService problems, ILogger<DatabaseUnavailableHandler> logger)
    : ProblemExceptionHandler(problems)
{
    private static readonly TimeSpan RetryAfter = TimeSpan.FromSeconds(5);

    protected override HandledProblem? Describe(HttpContext httpContext, Exception exception)
    {
        if (!IsOutage(exception))
        {
            return null;
        }

        LogOutage(exception, httpContext.Request.Path);
        return new HandledProblem(new ProblemDetails
        {
            Status = StatusCodes.Status503ServiceUnavailable,
            Title = "The database is unavailable",
            Detail = "Nothing was changed. Try again in a few seconds.",
            Type = "https://tools.ietf.org/html/rfc9110#section-15.6.4",
        }, RetryAfter);
    }

    internal static bool IsOutage(Exception exception) => exception switch
    {
        NpgsqlException { IsTransient: true } => true,
        NpgsqlException { InnerException: SocketException or IOException or TimeoutException } => true,
        PostgresException { SqlState: "57P01" or "57P02" or "57P03" } => true, // admin shutdown, crash shutdown, cannot connect now
        _ => exception.InnerException is { } inner && IsOutage(inner),
    };

    [LoggerMessage(Level = LogLevel.Error, Message = "Database unavailable while serving {Path}")]
    private partial void LogOutage(Exception exception, string path);
}
