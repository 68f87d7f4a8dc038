using System.Globalization;
using AspireAi.Web.ApiClients;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Web.Http;

// Web's endpoints answer the browser with the Api's own problem when an Api call fails, keeping its
// status (401, 404, 429 ...), message, trace id and Retry-After; an Api that cannot be reached is a 503.
internal sealed class ApiProblemFilter : IEndpointFilter
{
    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);

        try
        {
            return await next(context).ConfigureAwait(false);
        }
        catch (Exception ex) when (ApiFailure.Describe(ex) is { } problem)
        {
            return ToResult(context.HttpContext, problem);
        }
    }

    public static ProblemHttpResult ToResult(HttpContext context, ApiProblem problem)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);

        if (problem.RetryAfter is { } retryAfter)
        {
            context.Response.Headers.RetryAfter = ((int)Math.Ceiling(retryAfter.TotalSeconds)).ToString(CultureInfo.InvariantCulture);
        }

        var extensions = new Dictionary<string, object?>();
        if (problem.TraceId is { } traceId)
        {
            extensions["traceId"] = traceId;
        }

        return TypedResults.Problem(
            statusCode: problem.Status,
            title: problem.Title,
            detail: problem.Detail,
            type: problem.Type,
            extensions: extensions);
    }
}
