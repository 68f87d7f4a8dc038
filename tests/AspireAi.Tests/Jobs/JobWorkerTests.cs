using System.Collections.Concurrent;
using System.Diagnostics;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Xunit.Abstractions;

namespace AspireAi.Tests.Jobs;

/// <summary>The worker side, with in-process Workers job hosts (each its own worker id, connection pool and listener).</summary>
public sealed class JobWorkerTests(ITestOutputHelper output)
{
    [Fact]
    public async Task Ten_thousand_jobs_across_four_concurrent_workers_are_each_processed_exactly_once()
    {
        const int Jobs = 10_000;
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 4, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "2",
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            var stopwatch = Stopwatch.StartNew();
            // One transaction: the idle workers are woken by a single notification when it commits.
            await using (var connection = await servers.DataSource.OpenConnectionAsync())
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                for (var i = 0; i < Jobs; i++)
                {
                    await queue.EnqueueAsync(new JobRequest(type, new { key = $"k{i}" }), connection, transaction);
                }
                await transaction.CommitAsync();
            }
            var enqueued = stopwatch.Elapsed;

            await JobsTestData.WaitUntilAsync(
                async () => await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1 AND status = 'succeeded'", type) == Jobs,
                // A guard against hanging, not a performance assertion (that is bench/'s job): a full parallel test run
                // on two cores is much slower than this test alone.
                TimeSpan.FromSeconds(120), "all jobs to succeed");
            output.WriteLine($"enqueued {Jobs} in {enqueued.TotalSeconds:F1} s, all processed {(stopwatch.Elapsed - enqueued).TotalSeconds:F1} s later");
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        // Exactly once, counted by effects: one committed effect per job and per key, and one attempt each.
        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT key) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT job_id) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal(Jobs, await JobsTestData.CountAsync(servers.DataSource, """
            SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id
            WHERE j.type = $1 AND a.outcome = 'succeeded' AND a.attempt = 1 AND j.attempts = 1
            """, type));
        // All four workers took part.
        Assert.Equal(4, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT worker_id) FROM jobs_test_effects WHERE job_type = $1", type));
    }

    [Fact]
    public async Task A_types_concurrency_limit_holds_across_workers()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 2, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "3",
            [$"Jobs:Types:{type}:MaxConcurrency"] = "1",
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            for (var i = 0; i < 6; i++)
            {
                await queue.EnqueueAsync(new JobRequest(type, new { key = $"k{i}", sleepMs = 100 }));
            }
            await JobsTestData.WaitUntilAsync(
                async () => await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1 AND status = 'succeeded'", type) == 6,
                TimeSpan.FromSeconds(30), "all jobs to succeed");
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }
        // Six slots were free, but the attempts ran one after another.
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, """
            SELECT count(*) FROM job_attempts a JOIN job_attempts b ON a.id < b.id AND a.job_id <> b.job_id
            JOIN jobs ja ON ja.id = a.job_id JOIN jobs jb ON jb.id = b.job_id
            WHERE ja.type = $1 AND jb.type = $1 AND a.started_at < b.finished_at AND b.started_at < a.finished_at
            """, type));
    }

    [Fact]
    public async Task In_a_batch_each_job_commits_its_own_effects_and_a_failing_job_rolls_back_only_its_own()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "1",
            [$"Jobs:Types:{type}:BatchSize"] = "10",
            [$"Jobs:Types:{type}:MaxAttempts"] = "1",
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        var ids = new List<(long Id, bool Poison)>();
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            await using (var connection = await servers.DataSource.OpenConnectionAsync())
            await using (var transaction = await connection.BeginTransactionAsync())
            {
                for (var i = 0; i < 30; i++)
                {
                    // Every seventh job fails (its flag never exists), in the middle of its batch.
                    var poison = i % 7 == 3;
                    var payload = poison ? (object)new { key = $"k{i}", failUntilFlag = $"never-{Guid.NewGuid():N}" } : new { key = $"k{i}" };
                    ids.Add(((await queue.EnqueueAsync(new JobRequest(type, payload), connection, transaction)).JobId, poison));
                }
                await transaction.CommitAsync();
            }
            await JobsTestData.WaitUntilAsync(
                async () => await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1 AND status IN ('succeeded', 'dead')", type) == 30,
                TimeSpan.FromSeconds(30), "all jobs to finish");
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        foreach (var (id, poison) in ids)
        {
            Assert.Equal(poison ? JobStatus.Dead : JobStatus.Succeeded, await JobsTestData.StatusAsync(servers.DataSource, id));
            Assert.Equal(poison ? 0 : 1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", id));
            Assert.Equal(poison ? "failed" : "succeeded", await JobsTestData.ScalarAsync<string>(servers.DataSource, "SELECT string_agg(outcome, ',') FROM job_attempts WHERE job_id = $1", id));
        }
        // They ran in batches: the effects (created_at = now(), the start of the writing transaction) came from a few transactions.
        Assert.InRange(await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT created_at) FROM jobs_test_effects WHERE job_type = $1", type), 1, 10);
    }

    [Fact]
    public async Task The_workers_span_continues_the_trace_of_the_activity_that_enqueued_the_job()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        using var source = new ActivitySource("AspireAi.Tests.Jobs");
        var stopped = new ConcurrentQueue<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is JobsTelemetry.ActivitySourceName or "AspireAi.Tests.Jobs",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = stopped.Enqueue,
        };
        ActivitySource.AddActivityListener(listener);
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            long id;
            ActivityTraceId traceId;
            ActivitySpanId requestSpan;
            using (var request = source.StartActivity("POST /v1/conversations/{id}/messages", ActivityKind.Server)!)
            {
                (traceId, requestSpan) = (request.TraceId, request.SpanId);
                id = (await queue.EnqueueAsync(new JobRequest(type, new { key = "traced" }))).JobId;
            }
            await JobsTestData.WaitUntilAsync(() => Task.FromResult(stopped.Any(a => IsProcessing(a, type, id))), TimeSpan.FromSeconds(20), "the worker's span");

            var process = stopped.Single(a => IsProcessing(a, type, id));
            var create = stopped.Single(a => a.DisplayName == $"create {type}");
            Assert.Equal(ActivityKind.Consumer, process.Kind);
            Assert.Equal(traceId, process.TraceId);
            Assert.Equal(create.SpanId, process.ParentSpanId);
            Assert.Equal((ActivityKind.Producer, traceId, requestSpan), (create.Kind, create.TraceId, create.ParentSpanId));
            Assert.Equal("succeeded", process.GetTagItem("job.outcome"));
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }
    }

    private static bool IsProcessing(Activity activity, string type, long id) =>
        activity.DisplayName == $"process {type}" && activity.GetTagItem("messaging.message.id") is long jobId && jobId == id;
}
