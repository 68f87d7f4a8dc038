using System.Globalization;
using Microsoft.AspNetCore.Diagnostics;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.ServiceDefaults.ErrorHandling;

/// <summary>
/// Maps one kind of exception that is not a bug (an outage, a full queue) to a ProblemDetails with its status and
/// Retry-After. It hooks both error paths: the exception handler (production) and the developer exception page
/// (Development, where it runs first and would otherwise answer with an HTML page). Register a subclass with
/// <see cref="ProblemExceptionHandlerExtensions.AddProblemExceptionHandler{THandler}"/>.
/// </summary>
public abstract class ProblemExceptionHandler(IProblemDetailsService problems) : IExceptionHandler, IDeveloperPageExceptionFilter
{
    public async Task HandleExceptionAsync(ErrorContext errorContext, Func<ErrorContext, Task> next)
    {
        ArgumentNullException.ThrowIfNull(errorContext);
        ArgumentNullException.ThrowIfNull(next);
        if (!await TryHandleAsync(errorContext.HttpContext, errorContext.Exception, errorContext.HttpContext.RequestAborted).ConfigureAwait(false))
        {
            await next(errorContext).ConfigureAwait(false);
        }
    }

    public async ValueTask<bool> TryHandleAsync(HttpContext httpContext, Exception exception, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(httpContext);
        // Once the response has started, its status can no longer change: leave it to the default handling.
        if (httpContext.Response.HasStarted || Describe(httpContext, exception) is not { } problem)
        {
            return false;
        }

        var status = problem.Details.Status ?? StatusCodes.Status500InternalServerError;
        httpContext.Response.StatusCode = status;
        if (problem.RetryAfter is { } retryAfter)
        {
            httpContext.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        return await problems.TryWriteAsync(new ProblemDetailsContext
        {
            HttpContext = httpContext,
            Exception = exception,
            ProblemDetails = problem.Details,
        }).ConfigureAwait(false);
    }

    /// <summary>The answer for <paramref name="exception"/> (log it here), or null when this handler does not map it.</summary>
    protected abstract HandledProblem? Describe(HttpContext httpContext, Exception exception);

    /// <summary>The exception itself or the one it wraps (inner or single aggregate), if it is a <typeparamref name="TException"/>.</summary>
    protected static TException? Find<TException>(Exception? exception) where TException : Exception => exception switch
    {
        null => null,
        TException match => match,
        AggregateException { InnerExceptions.Count: 1 } aggregate => Find<TException>(aggregate.InnerExceptions[0]),
        _ => Find<TException>(exception.InnerException),
    };
}

/// <summary>What a <see cref="ProblemExceptionHandler"/> answers: the ProblemDetails and, for a temporary condition, when to retry.</summary>
public sealed record HandledProblem(ProblemDetails Details, TimeSpan? RetryAfter);

public static class ProblemExceptionHandlerExtensions
{
    /// <summary>Registers the handler on both error paths (exception handler and developer exception page).</summary>
    public static IServiceCollection AddProblemExceptionHandler<THandler>(this IServiceCollection services)
        where THandler : ProblemExceptionHandler
    {
        services.AddExceptionHandler<THandler>();
        services.AddSingleton<IDeveloperPageExceptionFilter, THandler>();
        return services;
    }
}
