using System.ComponentModel.DataAnnotations;
using AspireAi.Api.Auth;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Prompts;

/// <summary>
/// Diffs between prompt versions and staged rollouts: start one, advance it by hand, stop it, or run the check the
/// Workers' sweep runs on its schedule (stop on regression, advance when the stage is due) at once.
/// </summary>
public static class PromptRolloutsApi
{
    public static RouteGroupBuilder MapPromptRollouts(this RouteGroupBuilder group)
    {
        ArgumentNullException.ThrowIfNull(group);
        group.MapGet("/{name}/diff", DiffVersions);
        group.MapGet("/{name}/rollouts", ListRollouts);
        group.MapPost("/{name}/rollouts", StartRollout);
        group.MapPost("/{name}/rollouts/current/advance", AdvanceRollout);
        group.MapPost("/{name}/rollouts/current/stop", StopRollout);
        group.MapPost("/{name}/rollouts/current/check", CheckRollout);
        return group;
    }

    public sealed record DiffResponse(string Name, int From, int To, string FromSha256, string ToSha256, int Added, int Removed,
        IReadOnlyList<PromptDiffLine> Lines);

    public sealed record StartRolloutRequest(
        [property: Required, Range(1, int.MaxValue)] int? CandidateVersion,
        // Null: the configured stage length; 0: advanced by hand only.
        [property: Range(0, 43_200)] int? StageMinutes);

    public sealed record RolloutResponse(
        Guid Id, string PromptName, int CandidateVersion, int BaselineVersion, int Percent, string Status, int? StageMinutes,
        Guid? StartedBy, DateTimeOffset StartedAt, DateTimeOffset StageStartedAt, DateTimeOffset? NextAdvanceAt, DateTimeOffset? EndedAt,
        string? EndReason, RolloutComparison? Comparison);

    public sealed record RolloutsResponse(IReadOnlyList<int> Stages, IReadOnlyList<RolloutResponse> Items);

    /// <summary>The lines of <paramref name="to"/> against <paramref name="from"/> (any two versions, either order).</summary>
    public static async Task<Results<Ok<DiffResponse>, ValidationProblem, ProblemHttpResult>> DiffVersions(
        string name, HttpContext http, PromptStore store, int? from = null, int? to = null)
    {
        var errors = new Dictionary<string, string[]>();
        if (from is not > 0)
        {
            errors["from"] = ["from must be a version number (1 or more)."];
        }
        if (to is not > 0)
        {
            errors["to"] = ["to must be a version number (1 or more)."];
        }
        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }
        var old = await store.GetAsync(name, from!.Value, http.RequestAborted);
        var @new = await store.GetAsync(name, to!.Value, http.RequestAborted);
        if (old is null || @new is null)
        {
            return TypedResults.Problem(title: "Prompt version not found",
                detail: $"Prompt '{name}' has no version {(old is null ? from : to)}.", statusCode: StatusCodes.Status404NotFound);
        }
        var lines = PromptDiff.Lines(old.Template, @new.Template);
        return TypedResults.Ok(new DiffResponse(name, old.Version, @new.Version, old.Sha256, @new.Sha256,
            lines.Count(l => l.Kind == "added"), lines.Count(l => l.Kind == "removed"), lines));
    }

    /// <summary>The prompt's rollouts, newest first; the running one with its current comparison.</summary>
    public static async Task<Ok<RolloutsResponse>> ListRollouts(string name, HttpContext http, PromptRollouts rollouts)
    {
        var items = new List<RolloutResponse>();
        foreach (var rollout in await rollouts.ListAsync(name, 50, http.RequestAborted))
        {
            items.Add(await ToResponseAsync(rollout, rollouts, http.RequestAborted));
        }
        return TypedResults.Ok(new RolloutsResponse(PromptRollouts.Stages, items));
    }

    public static async Task<Results<Created<RolloutResponse>, ProblemHttpResult>> StartRollout(
        string name, StartRolloutRequest request, HttpContext http, PromptRollouts rollouts)
    {
        var result = await rollouts.StartAsync(name, request.CandidateVersion!.Value, request.StageMinutes, http.User.GetCurrentUser().UserId,
            http.RequestAborted);
        return result.Rollout is { } started
            ? TypedResults.Created($"/v1/admin/prompts/{name}/rollouts", await ToResponseAsync(started, rollouts, http.RequestAborted))
            : Problem(name, result.Error, request.CandidateVersion);
    }

    public static async Task<Results<Ok<RolloutResponse>, ProblemHttpResult>> AdvanceRollout(string name, HttpContext http, PromptRollouts rollouts) =>
        await RespondAsync(name, await rollouts.AdvanceAsync(name, http.User.GetCurrentUser().UserId, http.RequestAborted), rollouts, http);

    public static async Task<Results<Ok<RolloutResponse>, ProblemHttpResult>> StopRollout(string name, HttpContext http, PromptRollouts rollouts) =>
        await RespondAsync(name, await rollouts.StopAsync(name, http.User.GetCurrentUser().UserId, null, http.RequestAborted), rollouts, http);

    /// <summary>Runs the sweep's check for this prompt now; answers with the rollout as it is afterwards.</summary>
    public static async Task<Results<Ok<RolloutResponse>, ProblemHttpResult>> CheckRollout(string name, HttpContext http, PromptRollouts rollouts)
    {
        var running = (await rollouts.ListAsync(name, 1, http.RequestAborted)).FirstOrDefault(r => r.Status == "running");
        if (running is null)
        {
            return Problem(name, RolloutError.NotRunning, null);
        }
        var changed = await rollouts.SweepAsync(name, http.RequestAborted);
        return TypedResults.Ok(await ToResponseAsync(changed.Count > 0 ? changed[0] : running, rollouts, http.RequestAborted));
    }

    private static async Task<Results<Ok<RolloutResponse>, ProblemHttpResult>> RespondAsync(string name, RolloutResult result, PromptRollouts rollouts,
        HttpContext http) =>
        result.Rollout is { } rollout
            ? TypedResults.Ok(await ToResponseAsync(rollout, rollouts, http.RequestAborted))
            : Problem(name, result.Error, null);

    private static async Task<RolloutResponse> ToResponseAsync(PromptRollout r, PromptRollouts rollouts, CancellationToken cancellationToken) =>
        new(r.Id, r.PromptName, r.CandidateVersion, r.BaselineVersion, r.Percent, r.Status, r.StageMinutes, r.StartedBy, r.StartedAt,
            r.StageStartedAt, r.NextAdvanceAt, r.EndedAt, r.EndReason,
            r.Status == "running" ? await rollouts.CompareAsync(r, cancellationToken) : null);

    private static ProblemHttpResult Problem(string name, RolloutError error, int? version) => error switch
    {
        RolloutError.PromptNotFound => TypedResults.Problem(title: "Prompt not found", detail: $"There is no prompt '{name}'.",
            statusCode: StatusCodes.Status404NotFound),
        RolloutError.VersionNotFound => TypedResults.Problem(title: "Prompt version not found", detail: $"Prompt '{name}' has no version {version}.",
            statusCode: StatusCodes.Status404NotFound),
        RolloutError.NoActiveVersion => TypedResults.Problem(title: "No active version",
            detail: $"Prompt '{name}' has no active version to roll out against; activate one first.", statusCode: StatusCodes.Status409Conflict),
        RolloutError.CandidateIsActive => TypedResults.Problem(title: "Version already active",
            detail: $"Version {version} of prompt '{name}' is already the active version.", statusCode: StatusCodes.Status409Conflict),
        RolloutError.AlreadyRunning => TypedResults.Problem(title: "Rollout already running",
            detail: $"Prompt '{name}' already has a rollout running; advance or stop it first.", statusCode: StatusCodes.Status409Conflict),
        _ => TypedResults.Problem(title: "No rollout running", detail: $"Prompt '{name}' has no rollout running.",
            statusCode: StatusCodes.Status409Conflict),
    };
}
