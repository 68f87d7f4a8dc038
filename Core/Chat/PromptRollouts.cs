using System.Buffers.Binary;
using System.ComponentModel.DataAnnotations;
using System.Globalization;
using System.Security.Cryptography;
using AspireAi.Core.Caching;
using AspireAi.Core.Identity;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Chat;

/// <summary>Staged prompt rollouts (section "Prompts:Rollout").</summary>
public sealed class PromptRolloutOptions
{
    public const string SectionName = "Prompts:Rollout";

    /// <summary>How long each stage lasts before the sweep advances it, when the rollout does not say; 0: by hand only.</summary>
    [Range(0, 43_200)] public int DefaultStageMinutes { get; set; } = 60;

    /// <summary>The rollout stops when the candidate's share of failed answers exceeds the baseline's by more than this.</summary>
    [Range(0.0, 1.0)] public double ErrorRateMargin { get; set; } = 0.05;

    /// <summary>The rollout stops when the candidate's share of thumbs-down exceeds the baseline's by more than this.</summary>
    [Range(0.0, 1.0)] public double ThumbsDownRateMargin { get; set; } = 0.10;

    /// <summary>A rate is compared only once both versions have this many answers (error rate) or ratings (thumbs-down).</summary>
    [Range(1, 1_000_000)] public int MinSamples { get; set; } = 30;
}

/// <param name="Percent">Share of users the candidate serves: 1, 10, 50, or 100 once completed.</param>
/// <param name="Status"><c>running</c>, <c>completed</c>, <c>stopped</c> (by an admin) or <c>auto_stopped</c> (regression).</param>
/// <param name="StageMinutes">Stage length on the schedule; null when advanced by hand only.</param>
public sealed record PromptRollout(
    Guid Id, string PromptName, int CandidateVersion, int BaselineVersion, int Percent, string Status, int? StageMinutes,
    Guid? StartedBy, DateTimeOffset StartedAt, DateTimeOffset StageStartedAt, DateTimeOffset? NextAdvanceAt, DateTimeOffset? EndedAt,
    string? EndReason);

/// <summary>What a running rollout needs on the chat path; cached per prompt name.</summary>
public sealed record RolloutServing(Guid RolloutId, int Percent, int BaselineVersion, PromptVersion Candidate);

/// <summary>Answers and ratings of one version since the rollout started.</summary>
public sealed record VersionHealth(int Version, long Answers, long FailedAnswers, long Ratings, long ThumbsDown)
{
    public double? ErrorRate => Answers == 0 ? null : (double)FailedAnswers / Answers;

    public double? ThumbsDownRate => Ratings == 0 ? null : (double)ThumbsDown / Ratings;
}

/// <param name="Regression">Why the candidate is worse (<c>error_rate</c> or <c>thumbs_down_rate</c>), or null.</param>
public sealed record RolloutComparison(VersionHealth Candidate, VersionHealth Baseline, string? Regression);

public enum RolloutError
{
    None,
    PromptNotFound,
    VersionNotFound,
    NoActiveVersion,
    CandidateIsActive,
    AlreadyRunning,
    NotRunning,
}

public sealed record RolloutResult(RolloutError Error, PromptRollout? Rollout = null);

/// <summary>
/// Staged rollouts of a prompt version: the candidate serves 1 %, then 10 %, then 50 % of users, chosen by a hash of
/// the user id and the rollout id (so a user keeps their version through a rollout, and each rollout picks a
/// different 1 %), while the active version (the baseline) serves the rest. Advancing past 50 % activates the
/// candidate and completes the rollout. The sweep (<see cref="SweepAsync"/>, a recurring job) stops a rollout whose
/// candidate fails or is rated down more than the baseline by the configured margin, and advances due stages.
/// Every change is appended to the audit log in the same transaction.
/// </summary>
public sealed partial class PromptRollouts(
    NpgsqlDataSource dataSource,
    PromptStore prompts,
    IOptions<PromptRolloutOptions> options,
    TimeProvider time,
    ILogger<PromptRollouts> logger,
    SharedCache? cache = null)
{
    public const string Started = "prompt.rollout_started";
    public const string Advanced = "prompt.rollout_advanced";
    public const string Completed = "prompt.rollout_completed";
    public const string Stopped = "prompt.rollout_stopped";
    public const string AutoStopped = "prompt.rollout_auto_stopped";

    /// <summary>The candidate's share of users at each stage; the last one completes the rollout.</summary>
    public static readonly IReadOnlyList<int> Stages = [1, 10, 50, 100];

    private static readonly HybridCacheEntryOptions ServingCacheOptions = new()
    {
        Expiration = TimeSpan.FromMinutes(5),
        LocalCacheExpiration = TimeSpan.FromMinutes(5),
        Flags = HybridCacheEntryFlags.DisableDistributedCache,
    };

    private const string Columns = """
        id, prompt_name, candidate_version, baseline_version, percent, status, stage_minutes, started_by, started_at,
        stage_started_at, next_advance_at, ended_at, end_reason
        """;

    /// <summary>
    /// Whether the rollout serves its candidate to <paramref name="userId"/> at <paramref name="percent"/>: the user's
    /// bucket (0–9999) from a hash of both ids. Buckets below a stage stay below every later stage, so a user who got
    /// the candidate keeps it as the rollout widens.
    /// </summary>
    public static bool Serves(Guid userId, Guid rolloutId, int percent)
    {
        Span<byte> input = stackalloc byte[32];
        userId.TryWriteBytes(input[..16]);
        rolloutId.TryWriteBytes(input[16..]);
        Span<byte> hash = stackalloc byte[32];
        SHA256.HashData(input, hash);
        return BinaryPrimitives.ReadUInt32LittleEndian(hash) % 10_000 < percent * 100;
    }

    /// <summary>
    /// The version to use for <paramref name="userId"/>: the candidate of a running rollout when the user falls in
    /// its share, else <paramref name="active"/>. Reads only the cache on the usual path.
    /// </summary>
    public async Task<PromptVersion> ChooseAsync(PromptVersion active, Guid userId, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(active);
        var serving = await GetServingAsync(active.Name, cancellationToken).ConfigureAwait(false);
        // A baseline that is no longer the active version means the rollout ended and this copy is stale.
        return serving is not null && serving.BaselineVersion == active.Version && Serves(userId, serving.RolloutId, serving.Percent)
            ? serving.Candidate
            : active;
    }

    private async Task<RolloutServing?> GetServingAsync(string name, CancellationToken cancellationToken) =>
        cache is null
            ? await ReadServingAsync(name, cancellationToken).ConfigureAwait(false)
            : await cache.GetOrCreateAsync(ServingKey(name), token => new ValueTask<RolloutServing?>(ReadServingAsync(name, token)),
                ServingCacheOptions, cancellationToken).ConfigureAwait(false);

    private static string ServingKey(string name) => "prompt:rollout:" + name;

    private async Task<RolloutServing?> ReadServingAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT r.id, r.percent, r.baseline_version, {string.Join(", ", PromptStore.Columns.Split(", ").Select(c => "p." + c))}
            FROM prompt_rollouts r JOIN prompts p ON p.name = r.prompt_name AND p.version = r.candidate_version
            WHERE r.prompt_name = $1 AND r.status = 'running'
            """);
        command.Parameters.Add(new() { Value = name });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
            ? new RolloutServing(reader.GetGuid(0), reader.GetInt32(1), reader.GetInt32(2), PromptStore.Read(reader, 3))
            : null;
    }

    /// <summary>Whether <paramref name="name"/> has a rollout running.</summary>
    public async Task<bool> IsRunningAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("SELECT EXISTS (SELECT 1 FROM prompt_rollouts WHERE prompt_name = $1 AND status = 'running')");
        command.Parameters.Add(new() { Value = name });
        return (bool)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <summary>Rollouts of <paramref name="name"/> (all prompts when null), newest first.</summary>
    public async Task<IReadOnlyList<PromptRollout>> ListAsync(string? name, int limit, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM prompt_rollouts WHERE ($1::text IS NULL OR prompt_name = $1) ORDER BY started_at DESC, id DESC LIMIT $2
            """);
        command.Parameters.Add(new() { Value = (object?)name ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = limit });
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Starts serving <paramref name="candidateVersion"/> to 1 % of users, against the active version.</summary>
    /// <param name="stageMinutes">Stage length; null takes the configured default, 0 means advanced by hand only.</param>
    public async Task<RolloutResult> StartAsync(string name, int candidateVersion, int? stageMinutes, Guid actor, CancellationToken cancellationToken)
    {
        var minutes = stageMinutes ?? options.Value.DefaultStageMinutes;
        var now = time.GetUtcNow();
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await PromptStore.LockNameAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);

        await using (var check = new NpgsqlCommand("""
            SELECT (SELECT version FROM prompts WHERE name = $1 AND is_active),
                   EXISTS (SELECT 1 FROM prompts WHERE name = $1),
                   EXISTS (SELECT 1 FROM prompts WHERE name = $1 AND version = $2),
                   EXISTS (SELECT 1 FROM prompt_rollouts WHERE prompt_name = $1 AND status = 'running')
            """, connection, tx))
        {
            check.Parameters.Add(new() { Value = name });
            check.Parameters.Add(new() { Value = candidateVersion });
            await using var reader = await check.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
            var error = (Active: reader.IsDBNull(0) ? (int?)null : reader.GetInt32(0), Any: reader.GetBoolean(1), Exists: reader.GetBoolean(2), Running: reader.GetBoolean(3)) switch
            {
                { Any: false } => RolloutError.PromptNotFound,
                { Exists: false } => RolloutError.VersionNotFound,
                { Active: null } => RolloutError.NoActiveVersion,
                { Active: var a } when a == candidateVersion => RolloutError.CandidateIsActive,
                { Running: true } => RolloutError.AlreadyRunning,
                _ => RolloutError.None,
            };
            if (error != RolloutError.None)
            {
                return new RolloutResult(error);
            }
        }

        await using var insert = new NpgsqlCommand($"""
            INSERT INTO prompt_rollouts (id, prompt_name, candidate_version, baseline_version, percent, status, stage_minutes, started_by,
                                         started_at, stage_started_at, next_advance_at)
            SELECT $1, $2, $3, version, $4, 'running', $5, $6, $7, $7, $7 + make_interval(mins => $5)
            FROM prompts WHERE name = $2 AND is_active
            RETURNING {Columns}
            """, connection, tx);
        insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
        insert.Parameters.Add(new() { Value = name });
        insert.Parameters.Add(new() { Value = candidateVersion });
        insert.Parameters.Add(new() { Value = Stages[0] });
        insert.Parameters.Add(new() { Value = minutes == 0 ? DBNull.Value : minutes, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        insert.Parameters.Add(new() { Value = actor });
        insert.Parameters.Add(new() { Value = now });
        var rollout = (await ReadAsync(insert, cancellationToken).ConfigureAwait(false)).Single();
        await AuditAsync(connection, tx, actor, Started, rollout, new() { ["percent"] = Invariant(rollout.Percent) }, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        await InvalidateAsync(name).ConfigureAwait(false);
        LogStarted(name, candidateVersion, rollout.BaselineVersion, rollout.Percent);
        return new RolloutResult(RolloutError.None, rollout);
    }

    /// <summary>Moves the running rollout to its next stage; the last stage activates the candidate and completes it.</summary>
    /// <param name="actor">The admin, or null for the schedule.</param>
    public Task<RolloutResult> AdvanceAsync(string name, Guid? actor, CancellationToken cancellationToken) =>
        ChangeAsync(name, actor, async (connection, tx, rollout) =>
        {
            var next = Stages.First(s => s > rollout.Percent);
            var completes = next == Stages[^1];
            if (completes)
            {
                await PromptStore.DeactivateAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);
                await using var activate = new NpgsqlCommand("UPDATE prompts SET is_active = true WHERE name = $1 AND version = $2", connection, tx);
                activate.Parameters.Add(new() { Value = name });
                activate.Parameters.Add(new() { Value = rollout.CandidateVersion });
                await activate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
            await using var update = new NpgsqlCommand($"""
                UPDATE prompt_rollouts
                SET percent = $2, stage_started_at = $3,
                    next_advance_at = CASE WHEN $4 OR stage_minutes IS NULL THEN NULL ELSE $3 + make_interval(mins => stage_minutes) END,
                    status = CASE WHEN $4 THEN 'completed' ELSE status END,
                    ended_at = CASE WHEN $4 THEN $3 END,
                    end_reason = CASE WHEN $4 THEN $5 END
                WHERE id = $1
                RETURNING {Columns}
                """, connection, tx);
            update.Parameters.Add(new() { Value = rollout.Id });
            update.Parameters.Add(new() { Value = next });
            update.Parameters.Add(new() { Value = time.GetUtcNow() });
            update.Parameters.Add(new() { Value = completes });
            update.Parameters.Add(new() { Value = actor is null ? "schedule" : "manual" });
            var changed = (await ReadAsync(update, cancellationToken).ConfigureAwait(false)).Single();
            var details = new Dictionary<string, string?>
            {
                ["from_percent"] = Invariant(rollout.Percent),
                ["percent"] = Invariant(next),
                ["by"] = actor is null ? "schedule" : "admin",
            };
            return (changed, completes ? Completed : Advanced, details);
        }, cancellationToken);

    /// <summary>Stops the running rollout: everyone is served the baseline, which never stopped being the active version.</summary>
    /// <param name="regression">Null for an admin's stop; the failing comparison for an automatic one.</param>
    public Task<RolloutResult> StopAsync(string name, Guid? actor, RolloutComparison? regression, CancellationToken cancellationToken) =>
        ChangeAsync(name, actor, async (connection, tx, rollout) =>
        {
            await using var update = new NpgsqlCommand($"""
                UPDATE prompt_rollouts SET status = $2, ended_at = $3, next_advance_at = NULL, end_reason = $4
                WHERE id = $1
                RETURNING {Columns}
                """, connection, tx);
            update.Parameters.Add(new() { Value = rollout.Id });
            update.Parameters.Add(new() { Value = regression is null ? "stopped" : "auto_stopped" });
            update.Parameters.Add(new() { Value = time.GetUtcNow() });
            update.Parameters.Add(new() { Value = regression?.Regression ?? "manual" });
            var changed = (await ReadAsync(update, cancellationToken).ConfigureAwait(false)).Single();
            var details = new Dictionary<string, string?> { ["percent"] = Invariant(rollout.Percent) };
            if (regression is not null)
            {
                details["reason"] = regression.Regression;
                details["candidate_error_rate"] = Rate(regression.Candidate.ErrorRate);
                details["baseline_error_rate"] = Rate(regression.Baseline.ErrorRate);
                details["candidate_thumbs_down_rate"] = Rate(regression.Candidate.ThumbsDownRate);
                details["baseline_thumbs_down_rate"] = Rate(regression.Baseline.ThumbsDownRate);
            }
            return (changed, regression is null ? Stopped : AutoStopped, details);
        }, cancellationToken);

    // One stage change: under the prompt's lock, on its running rollout, with its audit row, in one transaction;
    // the caches are dropped after the commit so no instance re-reads the old state in between.
    private async Task<RolloutResult> ChangeAsync(string name, Guid? actor,
        Func<NpgsqlConnection, NpgsqlTransaction, PromptRollout, Task<(PromptRollout Changed, string Action, Dictionary<string, string?> Details)>> change,
        CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await PromptStore.LockNameAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);
        await using var select = new NpgsqlCommand($"SELECT {Columns} FROM prompt_rollouts WHERE prompt_name = $1 AND status = 'running'", connection, tx);
        select.Parameters.Add(new() { Value = name });
        if ((await ReadAsync(select, cancellationToken).ConfigureAwait(false)).SingleOrDefault() is not { } running)
        {
            return new RolloutResult(RolloutError.NotRunning);
        }
        var (changed, action, details) = await change(connection, tx, running).ConfigureAwait(false);
        await AuditAsync(connection, tx, actor, action, changed, details, cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        await InvalidateAsync(name).ConfigureAwait(false);
        LogChanged(action, name, changed.CandidateVersion, changed.Percent, changed.Status);
        return new RolloutResult(RolloutError.None, changed);
    }

    /// <summary>Answers and ratings of the candidate and the baseline since the rollout started, and whether the candidate regressed.</summary>
    public async Task<RolloutComparison> CompareAsync(PromptRollout rollout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(rollout);
        await using var command = dataSource.CreateCommand("""
            SELECT v.version,
                   (SELECT count(*) FROM messages m
                    WHERE m.prompt_name = $1 AND m.prompt_version = v.version AND m.role = 'assistant' AND m.created_at >= $2
                      AND m.status IN ('complete', 'failed')),
                   (SELECT count(*) FROM messages m
                    WHERE m.prompt_name = $1 AND m.prompt_version = v.version AND m.role = 'assistant' AND m.created_at >= $2
                      AND m.status = 'failed'),
                   (SELECT count(*) FROM message_feedback f WHERE f.prompt_name = $1 AND f.prompt_version = v.version AND f.created_at >= $2),
                   (SELECT count(*) FROM message_feedback f
                    WHERE f.prompt_name = $1 AND f.prompt_version = v.version AND f.created_at >= $2 AND f.rating = -1)
            FROM unnest($3::integer[]) AS v(version)
            """);
        command.Parameters.Add(new() { Value = rollout.PromptName });
        command.Parameters.Add(new() { Value = rollout.StartedAt });
        command.Parameters.Add(new() { Value = new[] { rollout.CandidateVersion, rollout.BaselineVersion } });
        var health = new Dictionary<int, VersionHealth>();
        await using (var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false))
        {
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                health[reader.GetInt32(0)] = new VersionHealth(reader.GetInt32(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetInt64(3), reader.GetInt64(4));
            }
        }
        var candidate = health[rollout.CandidateVersion];
        var baseline = health[rollout.BaselineVersion];
        return new RolloutComparison(candidate, baseline, RegressionOf(candidate, baseline, options.Value));
    }

    internal static string? RegressionOf(VersionHealth candidate, VersionHealth baseline, PromptRolloutOptions settings)
    {
        if (candidate.Answers >= settings.MinSamples && baseline.Answers >= settings.MinSamples
            && candidate.ErrorRate - baseline.ErrorRate > settings.ErrorRateMargin)
        {
            return "error_rate";
        }
        if (candidate.Ratings >= settings.MinSamples && baseline.Ratings >= settings.MinSamples
            && candidate.ThumbsDownRate - baseline.ThumbsDownRate > settings.ThumbsDownRateMargin)
        {
            return "thumbs_down_rate";
        }
        return null;
    }

    /// <summary>
    /// One pass over the running rollouts (of <paramref name="name"/> only, when given): stop those whose candidate
    /// regressed, advance those whose stage is due. Each change commits on its own (with its audit row), so a failure on
    /// one prompt neither undoes nor blocks the others; running it twice changes nothing more, since each change
    /// re-reads the running rollout under the prompt's lock.
    /// </summary>
    public async Task<IReadOnlyList<PromptRollout>> SweepAsync(string? name, CancellationToken cancellationToken)
    {
        var changed = new List<PromptRollout>();
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM prompt_rollouts WHERE status = 'running' AND ($1::text IS NULL OR prompt_name = $1) ORDER BY started_at
            """);
        command.Parameters.Add(new() { Value = (object?)name ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        foreach (var rollout in await ReadAsync(command, cancellationToken).ConfigureAwait(false))
        {
            var comparison = await CompareAsync(rollout, cancellationToken).ConfigureAwait(false);
            RolloutResult result;
            if (comparison.Regression is not null)
            {
                LogRegression(rollout.PromptName, rollout.CandidateVersion, comparison.Regression, rollout.Percent);
                result = await StopAsync(rollout.PromptName, null, comparison, cancellationToken).ConfigureAwait(false);
            }
            else if (rollout.NextAdvanceAt is { } due && due <= time.GetUtcNow())
            {
                result = await AdvanceAsync(rollout.PromptName, null, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                continue;
            }
            if (result.Rollout is { } done)
            {
                changed.Add(done);
            }
        }
        return changed;
    }

    private async Task InvalidateAsync(string name)
    {
        await prompts.InvalidateAsync(name).ConfigureAwait(false);
        if (cache is not null)
        {
            await cache.InvalidateAsync(ServingKey(name)).ConfigureAwait(false);
        }
    }

    private static Task AuditAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid? actor, string action, PromptRollout rollout,
        Dictionary<string, string?> details, CancellationToken cancellationToken)
    {
        details["rollout_id"] = rollout.Id.ToString();
        details["candidate_version"] = Invariant(rollout.CandidateVersion);
        details["baseline_version"] = Invariant(rollout.BaselineVersion);
        return IdentityAudit.WriteAsync(connection, tx, new AuditEntry(actor, action, "prompt", rollout.PromptName, details), cancellationToken);
    }

    private static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);

    private static string? Rate(double? value) => value?.ToString("0.####", CultureInfo.InvariantCulture);

    private static async Task<List<PromptRollout>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var items = new List<PromptRollout>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(new PromptRollout(
                reader.GetGuid(0), reader.GetString(1), reader.GetInt32(2), reader.GetInt32(3), reader.GetInt32(4), reader.GetString(5),
                reader.IsDBNull(6) ? null : reader.GetInt32(6),
                reader.IsDBNull(7) ? null : reader.GetGuid(7),
                reader.GetFieldValue<DateTimeOffset>(8), reader.GetFieldValue<DateTimeOffset>(9),
                reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10),
                reader.IsDBNull(11) ? null : reader.GetFieldValue<DateTimeOffset>(11),
                reader.IsDBNull(12) ? null : reader.GetString(12)));
        }
        return items;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Prompt {Name}: rollout of version {Candidate} against {Baseline} started at {Percent}%")]
    private partial void LogStarted(string name, int candidate, int baseline, int percent);

    [LoggerMessage(Level = LogLevel.Information, Message = "Prompt rollout {Action}: {Name} version {Candidate} at {Percent}% ({Status})")]
    private partial void LogChanged(string action, string name, int candidate, int percent, string status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Prompt {Name}: version {Candidate} regressed ({Reason}) at {Percent}%; stopping its rollout")]
    private partial void LogRegression(string name, int candidate, string reason, int percent);
}
