using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Jobs;

/// <summary>
/// Turns <see cref="JobQueueFullException"/> from any endpoint into 503 + Retry-After + a ProblemDetails saying which
/// queue is full. It hooks both error paths: the exception handler (production) and the developer exception page
/// (Development, where it runs first).
/// </summary>
internal sealed partial class JobQueueFullHandler(IProblemDetailsService problems, ILogger<JobQueueFullHandler> logger)
    : IExceptionHandler, IDeveloperPageExceptionFilter
{
    public async Task HandleExceptionAsync(ErrorContext errorContext, Func<ErrorContext, Task> next)
    {
        if (!await TryHandleAsync(errorContext.HttpContext, errorContext.Exception, errorContext.HttpContext.RequestAborted).ConfigureAwait(false))
        {
            await next(errorContext).ConfigureAwait(false);
        }
    }

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        if (Find(exception) is not { } full || httpContext.Response.HasStarted)
        {
            return false;
        }
        var retryAfter = Math.Max(1, (int)Math.Ceiling(full.RetryAfter.TotalSeconds));
        LogQueueFull(full.JobType, full.QueuedDepth, full.MaxQueuedDepth, httpContext.Request.Path);
        httpContext.Response.StatusCode = StatusCodes.Status503ServiceUnavailable;
        httpContext.Response.Headers.RetryAfter = retryAfter.ToString(CultureInfo.InvariantCulture);
        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails =
            {
                Status = StatusCodes.Status503ServiceUnavailable,
                Title = "The job queue is full",
                Detail = string.Create(CultureInfo.InvariantCulture,
                    $"The '{full.JobType}' queue holds {full.QueuedDepth} queued jobs; its limit (Jobs:Types:{full.JobType}:MaxQueuedDepth) is {full.MaxQueuedDepth}. Nothing was changed. Try again in {retryAfter} seconds."),
                Type = "https://tools.ietf.org/html/rfc9110#section-15.6.4",
                Extensions =
                {
                    ["queue"] = full.JobType,
                    ["queuedDepth"] = full.QueuedDepth,
                    ["maxQueuedDepth"] = full.MaxQueuedDepth,
                    ["retryAfterSeconds"] = retryAfter,
                },
            },
        }).ConfigureAwait(false);
    }

    private static JobQueueFullException? Find(Exception? exception) => exception switch
    {
        null => null,
        JobQueueFullException full => full,
        AggregateException { InnerExceptions.Count: 1 } aggregate => Find(aggregate.InnerExceptions[0]),
        _ => Find(exception.InnerException),
    };

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Path}: job queue {JobType} is full ({QueuedDepth}/{MaxQueuedDepth})")]
    private partial void LogQueueFull(string jobType, long queuedDepth, long maxQueuedDepth, string path);
}
