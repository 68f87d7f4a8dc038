namespace AspireAi.Web.ApiClients;

internal static class ApiFailure
{
    // Every way an Api call can fail, as the problem the UI shows: the Api's own answer, or a 503 when it
    // could not be reached (down, circuit open, timed out). Null for anything else, which is a bug.
    public static ApiProblem? Describe(Exception exception) => exception switch
    {
        ApiException api => api.Problem,
        HttpRequestException => Unavailable("The service could not be reached."),
        Polly.ExecutionRejectedException => Unavailable("The service is not answering."),
        _ => null,
    };

    private static ApiProblem Unavailable(string title) =>
        new(StatusCodes.Status503ServiceUnavailable, title, "Try again in a moment.", null, null, new Dictionary<string, string[]>(), null);
}
