using AspireAi.Core.Jobs;
using Npgsql;

namespace AspireAi.Workers.Jobs.Testing;

/// <summary>
/// Test-only handler (registered when Jobs:EnableTestHandlers is true) whose effect is a row in jobs_test_effects,
/// written in the job's transaction, so tests can count how often a job took effect. Payload (all optional):
/// <c>key</c> recorded with the effect; <c>sleepMs</c> to sleep after writing it (on the first <c>sleepAttempts</c>
/// attempts, or all); <c>failUntilFlag</c> to throw until a row with that name exists in jobs_test_flags;
/// <c>gate</c> to wait, after writing the effect, for a share lock on the jobs_test_flags row "{gate}:{attempt}" (if
/// there is one), so a test holding that row FOR UPDATE stalls a chosen attempt exactly there until it lets go.
/// </summary>
internal sealed class TestEffectHandler(string type) : IJobHandler
{
    /// <summary>The built-in type; Jobs:TestHandlers:EffectTypes (comma-separated) adds more, so tests can isolate themselves.</summary>
    public const string DefaultType = "test.effect";

    /// <summary>Creates the test tables. Safe to run concurrently from several processes.</summary>
    public const string Schema = """
        SELECT pg_advisory_xact_lock(hashtextextended('aspireai.jobs.test-schema', 0));
        CREATE TABLE IF NOT EXISTS jobs_test_effects (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            job_id     bigint NOT NULL,
            job_type   text NOT NULL,
            key        text,
            dedupe_key text,
            attempt    integer NOT NULL,
            worker_id  text NOT NULL,
            created_at timestamptz NOT NULL DEFAULT now()
        );
        CREATE TABLE IF NOT EXISTS jobs_test_flags (name text PRIMARY KEY);
        """;

    public string Type => type;

    public async Task HandleAsync(JobContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var payload = context.GetPayload<TestEffectPayload>();
        await using (var effect = context.CreateCommand("""
            INSERT INTO jobs_test_effects (job_id, job_type, key, dedupe_key, attempt, worker_id) VALUES ($1, $2, $3, $4, $5, $6)
            """))
        {
            effect.Parameters.Add(new() { Value = context.Job.Id });
            effect.Parameters.Add(new() { Value = context.Job.Type });
            effect.Parameters.Add(new() { Value = (object?)payload.Key ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            effect.Parameters.Add(new() { Value = (object?)context.Job.DedupeKey ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
            effect.Parameters.Add(new() { Value = context.Attempt });
            effect.Parameters.Add(new() { Value = context.WorkerId });
            await effect.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (payload.FailUntilFlag is { } flag)
        {
            await using var check = context.CreateCommand("SELECT EXISTS (SELECT 1 FROM jobs_test_flags WHERE name = $1)");
            check.Parameters.Add(new() { Value = flag });
            if (!(bool)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!)
            {
                throw new InvalidOperationException($"Test failure on attempt {context.Attempt}: flag '{flag}' is not set.");
            }
        }
        if (payload.Gate is { } gate)
        {
            await using var wait = context.CreateCommand("SELECT 1 FROM jobs_test_flags WHERE name = $1 FOR SHARE");
            wait.Parameters.Add(new() { Value = $"{gate}:{context.Attempt}" });
            // The test decides how long the gate stays closed; the job's token still ends the wait.
            wait.CommandTimeout = 0;
            await wait.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        if (payload.SleepMs > 0 && (payload.SleepAttempts is null || context.Attempt <= payload.SleepAttempts))
        {
            await Task.Delay(payload.SleepMs, cancellationToken).ConfigureAwait(false);
        }
    }

    internal static async Task EnsureSchemaAsync(NpgsqlDataSource dataSource, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await using (var command = new NpgsqlCommand(Schema, connection, transaction))
        {
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
    }

    private sealed record TestEffectPayload(string? Key, int SleepMs, int? SleepAttempts, string? FailUntilFlag, string? Gate);
}

/// <summary>Creates the test tables when a Workers host with test handlers starts.</summary>
internal sealed class TestEffectSchema(NpgsqlDataSource dataSource) : IHostedService
{
    public Task StartAsync(CancellationToken cancellationToken) => TestEffectHandler.EnsureSchemaAsync(dataSource, cancellationToken);

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;
}
