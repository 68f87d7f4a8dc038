using System.Net.Http.Headers;
using System.Text.Json;

namespace AspireAi.Web.ApiClients;

// An RFC 9457 ProblemDetails answer of the Api, with what the UI needs to explain it: the status, the
// message, per-field errors of a ValidationProblem, the trace id to quote, and when to retry after a 429.
public sealed record ApiProblem(
    int Status,
    string? Title,
    string? Detail,
    string? Type,
    string? TraceId,
    IReadOnlyDictionary<string, string[]> Errors,
    TimeSpan? RetryAfter)
{
    public const string TraceIdHeader = "X-Trace-Id";

    public string Message => Detail ?? Title ?? $"The service answered with status {Status}.";

    public static async Task<ApiProblem> ReadAsync(HttpResponseMessage response, TimeProvider time, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);

        Body? body = null;
        var mediaType = response.Content.Headers.ContentType?.MediaType;
        if (mediaType is not null && mediaType.EndsWith("json", StringComparison.OrdinalIgnoreCase))
        {
            try
            {
                body = await response.Content.ReadFromJsonAsync<Body>(ApiJson.Options, cancellationToken).ConfigureAwait(false);
            }
            catch (JsonException)
            {
                // Not a ProblemDetails after all (a proxy's error page, say): the status alone still says enough.
            }
        }

        var traceId = body?.TraceId
            ?? (response.Headers.TryGetValues(TraceIdHeader, out var values) ? values.FirstOrDefault() : null);

        return new ApiProblem(
            (int)response.StatusCode,
            body?.Title ?? response.ReasonPhrase,
            body?.Detail,
            body?.Type,
            traceId,
            body?.Errors ?? new Dictionary<string, string[]>(),
            RetryAfterOf(response.Headers.RetryAfter, time));
    }

    private static TimeSpan? RetryAfterOf(RetryConditionHeaderValue? header, TimeProvider time)
    {
        if (header?.Delta is { } delta)
        {
            return delta;
        }

        if (header?.Date is { } date)
        {
            var wait = date - time.GetUtcNow();
            return wait > TimeSpan.Zero ? wait : TimeSpan.Zero;
        }

        return null;
    }

    private sealed record Body(
        string? Type,
        string? Title,
        int? Status,
        string? Detail,
        string? TraceId,
        Dictionary<string, string[]>? Errors);
}

// Thrown by the Api clients for every answer that is not a success, so callers handle one type and
// decide per status (401: sign in again, 404: not found, 429: wait, 400: show the field errors).
internal sealed class ApiException : Exception
{
    public ApiException(ApiProblem problem)
        : base($"The Api answered {problem.Status}: {problem.Title}")
    {
        Problem = problem;
    }

    public ApiProblem Problem { get; }

    public int Status => Problem.Status;
}
