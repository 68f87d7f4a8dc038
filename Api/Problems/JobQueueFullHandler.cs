using System.Globalization;
using AspireAi.Core.Jobs;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Logging;

namespace AspireAi.Api.Problems;

/// <summary>
/// Turns <see cref="JobQueueFullException"/> from any endpoint into 503 + Retry-After + a ProblemDetails saying which
/// queue is full, so a caller knows it was refused before anything was written and when to come back.
/// </summary>
internal sealed partial class JobQueueFullHandler(IProblemDetailsService problems, ILogger<JobQueueFullHandler> logger)
    : ProblemExceptionHandler(problems)
{
    protected override HandledProblem? Describe(HttpContext httpContext, Exception exception)
    {
        if (Find<JobQueueFullException>(exception) is not { } full)
        {
            return null;
        }

        var retryAfter = Math.Max(1, (int)Math.Ceiling(full.RetryAfter.TotalSeconds));
        LogQueueFull(full.JobType, full.QueuedDepth, full.MaxQueuedDepth, httpContext.Request.Path);
        return new HandledProblem(new ProblemDetails
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
        }, TimeSpan.FromSeconds(retryAfter));
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Refused {Path}: job queue {JobType} is full ({QueuedDepth}/{MaxQueuedDepth})")]
    private partial void LogQueueFull(string jobType, long queuedDepth, long maxQueuedDepth, string path);
}
