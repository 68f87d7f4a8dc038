using AspireAi.Web.ApiClients;
using AspireAi.Web.Components.Shared;
using AspireAi.Web.Jobs;
using Microsoft.AspNetCore.Components;

namespace AspireAi.Web.Components.Jobs;

// The replay and cancel buttons of both jobs pages post here: the Api does the change, then the browser is sent
// back to the view it came from (post/redirect/get, so a reload repeats nothing) with a one-time confirmation.
internal static class JobActions
{
    public const string FormName = "job-action";

    // Null when done (redirected); otherwise the Api's problem for the page to show, e.g. its 409 for a job that
    // is no longer dead, or its 403 for an admin whose role was withdrawn since signing in.
    public static async Task<ApiProblem?> RunAsync(
        AdminJobsClient jobs, NavigationManager navigation, HttpContext context, long? replayId, long? cancelId)
    {
        ArgumentNullException.ThrowIfNull(jobs);
        ArgumentNullException.ThrowIfNull(navigation);
        ArgumentNullException.ThrowIfNull(context);

        var (id, action) = (replayId, cancelId) switch
        {
            ({ } replay, null) => (replay, JobsFlash.Replayed),
            (null, { } cancel) => (cancel, JobsFlash.Cancelled),
            // Not something one of the buttons sends.
            _ => (0L, (string?)null),
        };
        if (action is null)
        {
            return null;
        }

        try
        {
            _ = action == JobsFlash.Replayed
                ? await jobs.ReplayAsync(id, context.RequestAborted)
                : await jobs.CancelAsync(id, context.RequestAborted);
        }
        catch (Exception ex) when (ApiFailure.Describe(ex) is { } failure)
        {
            if (failure.Status == StatusCodes.Status401Unauthorized)
            {
                navigation.RedirectToSignIn();
                return null;
            }

            return failure;
        }

        JobsFlash.Set(context, action, id);
        navigation.NavigateTo(navigation.Uri);
        return null;
    }
}
