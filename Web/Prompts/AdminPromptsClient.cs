using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.Prompts;

public sealed record PromptVersionView(Guid Id, string Name, int Version, string Template, string? Model, float? Temperature, int? MaxTokens,
    DateTimeOffset CreatedAt, string Sha256, bool IsActive);

public sealed record PromptDiffLineView(string Kind, int? OldLine, int? NewLine, string Text);

public sealed record PromptDiffView(string Name, int From, int To, int Added, int Removed, IReadOnlyList<PromptDiffLineView> Lines);

public sealed record VersionHealthView(int Version, long Answers, long FailedAnswers, long Ratings, long ThumbsDown, double? ErrorRate, double? ThumbsDownRate);

public sealed record RolloutComparisonView(VersionHealthView Candidate, VersionHealthView Baseline, string? Regression);

public sealed record RolloutView(
    Guid Id, string PromptName, int CandidateVersion, int BaselineVersion, int Percent, string Status, int? StageMinutes,
    DateTimeOffset StartedAt, DateTimeOffset StageStartedAt, DateTimeOffset? NextAdvanceAt, DateTimeOffset? EndedAt, string? EndReason,
    RolloutComparisonView? Comparison);

public sealed record RolloutsView(IReadOnlyList<int> Stages, IReadOnlyList<RolloutView> Items);

// The Api's prompt administration (/v1/admin/prompts), called as the signed-in admin; the Api checks the role itself.
internal sealed class AdminPromptsClient(HttpClient http, TimeProvider time)
{
    private const string Prompts = "v1/admin/prompts";

    public async Task<IReadOnlyList<PromptVersionView>> ListAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(WithQuery(Prompts, ("name", name)), cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<List<PromptVersionView>>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<PromptDiffView> DiffAsync(string name, int from, int to, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(WithQuery($"{Prompts}/{Segment(name)}/diff", ("from", Invariant(from)), ("to", Invariant(to))),
            cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<PromptDiffView>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<RolloutsView> RolloutsAsync(string name, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync($"{Prompts}/{Segment(name)}/rollouts", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<RolloutsView>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task StartRolloutAsync(string name, int candidate, int? stageMinutes, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync($"{Prompts}/{Segment(name)}/rollouts", new { candidateVersion = candidate, stageMinutes },
            ApiJson.Options, cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>advance, stop or check.</summary>
    public Task RolloutActionAsync(string name, string action, CancellationToken cancellationToken) =>
        PostAsync($"{Prompts}/{Segment(name)}/rollouts/current/{action}", cancellationToken);

    public Task ActivateAsync(string name, int version, CancellationToken cancellationToken) =>
        PostAsync($"{Prompts}/{Segment(name)}/versions/{Invariant(version)}/activate", cancellationToken);

    public Task RollbackAsync(string name, CancellationToken cancellationToken) => PostAsync($"{Prompts}/{Segment(name)}/rollback", cancellationToken);

    private async Task PostAsync(string path, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsync(path, content: null, cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }
}

internal static class PromptsUi
{
    public static IHostApplicationBuilder AddPromptsUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddUserApiClient<AdminPromptsClient>();
        return builder;
    }
}
