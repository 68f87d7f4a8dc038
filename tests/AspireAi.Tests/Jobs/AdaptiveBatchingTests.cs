using System.Diagnostics.Metrics;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Tests.Jobs;

/// <summary>
/// Adaptive batching, with no BatchSize configured: fast jobs share transactions, slow ones run one per transaction,
/// and every job still takes effect exactly once. Which jobs shared a commit is read from the rows: a completed job's
/// updated_at and its effect's created_at are now(), the start of the transaction that wrote them (xmin would not do:
/// each job of a batch writes in a subtransaction of its own).
/// </summary>
public sealed class AdaptiveBatchingTests
{
    private const string BatchSize = "aspireai.jobs.batch.size";
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    [Fact]
    public async Task With_default_options_fast_jobs_run_several_to_a_transaction_each_taking_effect_once()
    {
        const int Jobs = 300;
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        using var recorder = new JobsMeterRecorder(hosts[0].Services.GetRequiredService<IMeterFactory>());
        try
        {
            await EnqueueAsync(servers, Enumerable.Range(0, Jobs).Select(i => new JobRequest(type, new { key = $"k{i}" })));
            await WaitForAsync(servers, type, "status = 'succeeded'", Jobs);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT job_id) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, """
            SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.type = $1 AND a.outcome = 'succeeded' AND a.attempt = 1
            """, type));
        // Each job's effect committed in the transaction that completed it.
        var apart = await JobsTestData.ScalarAsync<string>(servers.DataSource, """
            SELECT coalesce(string_agg(format('job %s: completed %s, effect %s; attempts %s', j.id, j.updated_at, e.created_at,
                (SELECT string_agg(a.attempt || ' ' || a.outcome || ' ' || a.worker_id || ' ' || a.finished_at, ', ') FROM job_attempts a WHERE a.job_id = j.id)), E'\n'), '')
            FROM jobs j JOIN jobs_test_effects e ON e.job_id = j.id
            WHERE j.type = $1 AND j.updated_at <> e.created_at
            """, type);
        Assert.True(apart.Length == 0, apart);
        var commits = await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT updated_at) FROM jobs WHERE type = $1", type);
        // Batched: fewer commits than jobs. How many fewer depends on how fast the machine runs a job against the
        // 50 ms target (on a quiet machine ~20-32 per commit; on two cores shared with a whole test run, far fewer).
        Assert.InRange(commits, 1, Jobs - 1);
        // The batch-size histogram saw the same commits, and every job in one of them.
        Assert.Equal(commits, recorder.Count(BatchSize, type));
        Assert.Equal(Jobs, recorder.Sum(BatchSize, type));
        Assert.InRange(recorder.Max(BatchSize, type), 2, 32);
    }

    [Fact]
    public async Task A_slow_job_in_a_batch_commits_on_its_own_and_slow_jobs_then_run_one_per_transaction()
    {
        const int Fast = 100;
        const int Slow = 6;
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "1",
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        using var recorder = new JobsMeterRecorder(hosts[0].Services.GetRequiredService<IMeterFactory>());
        var slow = new List<long>();
        try
        {
            // Fast jobs first: the type is measured as fast and batches.
            await EnqueueAsync(servers, Enumerable.Range(0, Fast).Select(i => new JobRequest(type, new { key = $"fast{i}" })));
            await WaitForAsync(servers, type, "status = 'succeeded'", Fast);
            Assert.True(recorder.Max(BatchSize, type) > 1, recorder.Describe());

            // Then slow jobs (well over the 50 ms target), ahead of more fast ones: the first slow job is claimed with
            // a batch behind it; the batch commits right after it, and from then on the estimate keeps them apart.
            slow.AddRange(await EnqueueAsync(servers, Enumerable.Range(0, Slow).Select(i => new JobRequest(type, new { key = $"slow{i}", sleepMs = 200 }) { Priority = 1 })
                .Concat(Enumerable.Range(0, Fast).Select(i => new JobRequest(type, new { key = $"late{i}" })))));
            await WaitForAsync(servers, type, "status = 'succeeded'", (2 * Fast) + Slow);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        // Each slow job committed in a transaction of its own: no other job's effect was written by its transaction.
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, """
            SELECT count(*) FROM jobs_test_effects s JOIN jobs_test_effects o ON o.created_at = s.created_at AND o.job_id <> s.job_id
            WHERE s.job_id = ANY($1) AND o.job_type = $2
            """, slow.Take(Slow).ToArray(), type));
        // While the fast ones, before and after, still shared transactions.
        Assert.InRange(await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT created_at) FROM jobs_test_effects WHERE job_type = $1", type),
            Slow + 1, Slow + Fast);
        Assert.Equal((2 * Fast) + Slow, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal((2 * Fast) + Slow, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT job_id) FROM jobs_test_effects WHERE job_type = $1", type));
    }

    [Fact]
    public async Task A_failing_job_in_an_adaptive_batch_rolls_back_only_its_own_effects_and_is_retried_then_dead()
    {
        const int Jobs = 70;
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "1",
            // A generous target: batches stay long enough, even on a loaded machine, for failures to fall inside them.
            ["Jobs:BatchTarget"] = "00:00:00.500",
            [$"Jobs:Types:{type}:MaxAttempts"] = "2",
            [$"Jobs:Types:{type}:BackoffBase"] = "00:00:00.050",
            [$"Jobs:Types:{type}:BackoffCap"] = "00:00:00.100",
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        List<long> ids;
        try
        {
            // Every seventh job fails on every attempt (its flag never exists), among jobs that succeed.
            ids = await EnqueueAsync(servers, Enumerable.Range(0, Jobs).Select(i => new JobRequest(type,
                i % 7 == 3 ? new { key = $"k{i}", failUntilFlag = $"never-{Guid.NewGuid():N}" } : (object)new { key = $"k{i}" })));
            await WaitForAsync(servers, type, "status IN ('succeeded', 'dead')", Jobs);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        for (var i = 0; i < Jobs; i++)
        {
            var poison = i % 7 == 3;
            Assert.Equal(poison ? JobStatus.Dead : JobStatus.Succeeded, await JobsTestData.StatusAsync(servers.DataSource, ids[i]));
            Assert.Equal(poison ? 0 : 1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", ids[i]));
            Assert.Equal(poison ? "failed,failed" : "succeeded",
                await JobsTestData.ScalarAsync<string>(servers.DataSource, "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM job_attempts WHERE job_id = $1", ids[i]));
        }
        // Failures happened inside batches: for some failing job, the jobs just before and after it (claim order) took
        // effect in one transaction, which went on past the failure and kept their effects.
        var spanned = 0;
        for (var i = 3; i + 1 < Jobs; i += 7)
        {
            spanned += (int)await JobsTestData.CountAsync(servers.DataSource, """
                SELECT count(*) FROM (SELECT created_at FROM jobs_test_effects WHERE job_id IN ($1, $2) GROUP BY created_at HAVING count(*) = 2) AS shared
                """, ids[i - 1], ids[i + 1]);
        }
        Assert.True(spanned > 0, "no failing job had its neighbours committed in one transaction");
        Assert.InRange(await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT created_at) FROM jobs_test_effects WHERE job_type = $1", type),
            1, Jobs / 2);
    }

    [Fact]
    public async Task A_worker_killed_in_the_middle_of_a_batch_leaves_every_job_of_it_to_run_again_exactly_once()
    {
        const int Jobs = 20;
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var gateName = $"gate-{Guid.NewGuid():N}";
        var settings = new Dictionary<string, string>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
            ["Jobs:Workers"] = "1",
            ["Jobs:LeaseDuration"] = "00:00:02",
            ["Jobs:HeartbeatInterval"] = "00:00:00.400",
            // A generous target, so that a loaded machine does not cut the batch before the gated job.
            ["Jobs:BatchTarget"] = "00:00:00.500",
        };
        await using var gate = await JobGate.CloseAsync(servers.DataSource, gateName, attempt: 1);
        await using var first = WorkersProcess.Start(servers, settings);
        // Measured as fast first, so that the type batches.
        await EnqueueAsync(servers, Enumerable.Range(0, Jobs).Select(i => new JobRequest(type, new { key = $"warm{i}" })));
        await WaitForAsync(servers, type, "status = 'succeeded'", Jobs, () => first.Output);

        // The fifth job's first attempt writes its effect, then stops at the closed gate, in the middle of its batch.
        var ids = await EnqueueAsync(servers, Enumerable.Range(0, Jobs).Select(i => new JobRequest(type,
            i == 4 ? new { key = $"b{i}", gate = gateName } : (object)new { key = $"b{i}" })));
        await JobsTestData.WaitUntilAsync(async () => await gate.WaitingAsync() == 1, Timeout, "the gated job to reach the gate", () => first.Output);
        // Jobs claimed before it (id order) are still running: they ran before it in its batch, and their effects and
        // completions are written but not committed.
        var before = ids.Take(4).ToArray();
        Assert.True(await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE id = ANY($1) AND status = 'running'", before) > 0);
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = ANY($1)", ids.ToArray()));
        var held = await JobsTestData.ScalarAsync<long[]>(servers.DataSource, "SELECT array_agg(id) FROM jobs WHERE id = ANY($1) AND status = 'running'", ids.ToArray());

        await first.KillAsync();
        // Let the dead worker's backend finish its wait, notice the closed socket and roll back the batch.
        await gate.OpenAsync();
        await using var second = WorkersProcess.Start(servers, settings);
        await WaitForAsync(servers, type, "status = 'succeeded'", 2 * Jobs, () => second.Output);

        // Exactly once: one effect per job; the killed batch's jobs took effect on their second attempt only.
        foreach (var id in ids)
        {
            Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", id));
        }
        foreach (var id in held)
        {
            Assert.Equal(2, await JobsTestData.ScalarAsync<int>(servers.DataSource, "SELECT attempt FROM jobs_test_effects WHERE job_id = $1", id));
            Assert.Equal("lease_expired,succeeded",
                await JobsTestData.ScalarAsync<string>(servers.DataSource, "SELECT string_agg(outcome, ',' ORDER BY attempt) FROM job_attempts WHERE job_id = $1", id));
        }
    }

    private static async Task<List<long>> EnqueueAsync(TestServers servers, IEnumerable<JobRequest> requests)
    {
        using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
        var queue = queueHost.Services.GetRequiredService<IJobQueue>();
        var ids = new List<long>();
        // One transaction: the jobs appear together, as a backlog a worker can batch.
        await using var connection = await servers.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        foreach (var request in requests)
        {
            ids.Add((await queue.EnqueueAsync(request, connection, transaction)).JobId);
        }
        await transaction.CommitAsync();
        return ids;
    }

    private static Task WaitForAsync(TestServers servers, string type, string condition, int count, Func<string>? diagnostics = null) =>
        JobsTestData.WaitUntilAsync(
            async () => await JobsTestData.CountAsync(servers.DataSource, $"SELECT count(*) FROM jobs WHERE type = $1 AND {condition}", type) == count,
            Timeout, $"{count} jobs of {type} with {condition}", diagnostics);
}
