using System.Diagnostics.Metrics;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AspireAi.Tests.Jobs;

/// <summary>
/// The worker's guarantees that no other test would notice breaking: the heartbeat keeps a long job's lease, the
/// completion is fenced against a worker that lost its lease, NOTIFY wakes an idle worker, and claims follow
/// priority and run_at. Bounds here are functional (something happens at all), never performance figures.
/// </summary>
public sealed class JobLeaseAndWakeUpTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task A_handler_running_three_times_its_lease_keeps_it_through_the_heartbeat_and_runs_once()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        // Two workers: whichever does not run the job would reclaim it on its own heartbeat if the lease lapsed.
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 2, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
            ["Jobs:LeaseDuration"] = "00:00:02",
            ["Jobs:HeartbeatInterval"] = "00:00:00.250",
        });
        long id;
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            id = (await queueHost.Services.GetRequiredService<IJobQueue>().EnqueueAsync(new JobRequest(type, new { key = "long", sleepMs = 6000 }))).JobId;
            // The claim leased it until started_at + 2 s; only a heartbeat can push the lease beyond that.
            await JobsTestData.WaitUntilAsync(() => JobsTestData.ScalarAsync<bool>(servers.DataSource,
                "SELECT coalesce(bool_or(lease_expires_at > started_at + interval '3 seconds'), false) FROM jobs WHERE id = $1 AND status = 'running'", id),
                Timeout, "the heartbeat to extend the lease");
            await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Succeeded, Timeout);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        Assert.Equal(1, await JobsTestData.ScalarAsync<int>(servers.DataSource, "SELECT attempts FROM jobs WHERE id = $1", id));
        Assert.Equal("1:succeeded", await JobsTestData.ScalarAsync<string>(servers.DataSource,
            "SELECT string_agg(attempt || ':' || outcome, ',' ORDER BY id) FROM job_attempts WHERE job_id = $1", id));
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM job_attempts WHERE job_id = $1 AND outcome = 'lease_expired'", id));
        Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", id));
    }

    [Fact]
    public async Task A_worker_whose_lease_was_taken_over_cannot_commit_its_completion_and_its_effects_roll_back()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var gate = $"gate-{Guid.NewGuid():N}";
        // Each attempt writes its effect, then stops at its own gate until the test opens it.
        await using var first = await JobGate.CloseAsync(servers.DataSource, gate, attempt: 1);
        await using var second = await JobGate.CloseAsync(servers.DataSource, gate, attempt: 2);
        // Worker A has one slot (so it cannot take the job back itself) and heartbeats too rarely to notice the
        // takeover and cancel its handler: only the fence on its completion can stop it.
        var a = (await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "1",
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
            ["Jobs:LeaseDuration"] = "00:05:00",
            ["Jobs:HeartbeatInterval"] = "00:04:00",
        })).Single();
        using var recorderA = new JobsMeterRecorder(a.Services.GetRequiredService<IMeterFactory>());
        var hosts = new List<IHost> { a };
        long id;
        string workerA, workerB;
        try
        {
            workerA = JobsTestData.WorkerId(a);
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            id = (await queueHost.Services.GetRequiredService<IJobQueue>().EnqueueAsync(new JobRequest(type, new { key = "fenced", gate }))).JobId;
            await JobsTestData.WaitUntilAsync(async () => await first.WaitingAsync() == 1, Timeout, "worker A's attempt to reach its gate");
            Assert.Equal(workerA, await JobsTestData.ScalarAsync<string>(servers.DataSource, "SELECT lease_owner FROM jobs WHERE id = $1", id));

            // A stalls past its lease (ended here rather than waited out); B's heartbeat reclaims the job, and B's
            // attempt runs to its own gate.
            Assert.Equal(1, await JobsTestData.ExecuteAsync(servers.DataSource,
                "UPDATE jobs SET lease_expires_at = now() - interval '1 second' WHERE id = $1 AND status = 'running'", id));
            var b = (await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
            {
                ["Jobs:TestHandlers:EffectTypes"] = type,
                ["Jobs:HandledTypes:0"] = type,
                ["Jobs:LeaseDuration"] = "00:00:10",
                ["Jobs:HeartbeatInterval"] = "00:00:00.200",
            })).Single();
            hosts.Add(b);
            workerB = JobsTestData.WorkerId(b);
            await JobsTestData.WaitUntilAsync(async () => await second.WaitingAsync() == 1, Timeout, "worker B's attempt to reach its gate");

            // A completes while the job is running again, under B's lease: the fence is the lease owner and attempt,
            // not merely the status.
            await first.OpenAsync();
            await JobsTestData.WaitUntilAsync(() => Task.FromResult(recorderA.Sum("aspireai.jobs.attempts", type, "lease_lost") == 1),
                Timeout, "worker A's completion to be refused", recorderA.Describe);
            Assert.Equal($"running:{workerB}:2", await JobsTestData.ScalarAsync<string>(servers.DataSource,
                "SELECT status || ':' || lease_owner || ':' || attempts FROM jobs WHERE id = $1", id));

            await second.OpenAsync();
            await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Succeeded, Timeout);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        // Exactly one effect, B's: A's rolled back with its refused completion.
        Assert.Equal($"2:{workerB}", await JobsTestData.ScalarAsync<string>(servers.DataSource,
            "SELECT string_agg(attempt || ':' || worker_id, ',') FROM jobs_test_effects WHERE job_id = $1", id));
        Assert.Equal(2, await JobsTestData.ScalarAsync<int>(servers.DataSource, "SELECT attempts FROM jobs WHERE id = $1", id));
        // A's attempt is on record as lost with its lease, not as succeeded.
        Assert.Equal($"1:{workerA}:lease_expired,2:{workerB}:succeeded", await JobsTestData.ScalarAsync<string>(servers.DataSource,
            "SELECT string_agg(attempt || ':' || worker_id || ':' || outcome, ',' ORDER BY id) FROM job_attempts WHERE job_id = $1", id));
        Assert.Equal(0, recorderA.Sum("aspireai.jobs.attempts", type, JobAttemptOutcome.Succeeded));
    }

    [Fact]
    public async Task An_idle_worker_is_woken_by_the_enqueues_notification_long_before_its_fallback_poll()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        // Named connections, so this worker's LISTEN can be told apart from other tests' workers.
        var applicationName = $"notify-{Guid.NewGuid():N}";
        var connectionString = new NpgsqlConnectionStringBuilder(servers.PostgresConnectionString) { ApplicationName = applicationName }.ConnectionString;
        var hosts = await JobsTestData.StartWorkerHostsAsync(connectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
            // Nothing else wakes it within the test: the poll is a minute away, and no job is delayed or reclaimed.
            ["Jobs:PollInterval"] = "00:01:00",
        });
        try
        {
            await JobsTestData.WaitUntilAsync(async () => await JobsTestData.CountAsync(servers.DataSource,
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = $1 AND query LIKE 'LISTEN %'", applicationName) == 1,
                Timeout, "the worker to listen");
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            // A first job, so the worker has finished its start-up claims and sits idle before the one that counts.
            var first = await queue.EnqueueAsync(new JobRequest(type, new { key = "first" }));
            await JobsTestData.WaitForStatusAsync(servers.DataSource, first.JobId, JobStatus.Succeeded, Timeout);

            var second = await queue.EnqueueAsync(new JobRequest(type, new { key = "second" }));
            // Generous, and still far below the 60 s poll: only the notification can have woken the worker.
            await JobsTestData.WaitForStatusAsync(servers.DataSource, second.JobId, JobStatus.Succeeded, TimeSpan.FromSeconds(10));
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }
    }

    [Fact]
    public async Task Due_jobs_start_highest_priority_first_then_in_run_at_order()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
        var queue = queueHost.Services.GetRequiredService<IJobQueue>();
        // Enqueued before any worker runs, low priority first; a single slot then starts them one at a time.
        async Task<long> EnqueueAsync(string key, int priority) =>
            (await queue.EnqueueAsync(new JobRequest(type, new { key }) { Priority = priority })).JobId;
        var low = await EnqueueAsync("low", -5);
        var high = await EnqueueAsync("high", 5);
        var normal = await EnqueueAsync("normal", 0);
        var highLater = await EnqueueAsync("high-later", 5);

        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "1",
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
        });
        try
        {
            await JobsTestData.WaitUntilAsync(async () => await JobsTestData.CountAsync(servers.DataSource,
                "SELECT count(*) FROM jobs WHERE type = $1 AND status = 'succeeded'", type) == 4, Timeout, "all jobs to succeed");
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        // One slot runs them one after another, so they finish in the order they start. (An attempt's started_at is
        // when its job was claimed: jobs claimed together for a batch are stamped in the table's row order.)
        var order = await JobsTestData.ScalarAsync<long[]>(servers.DataSource, """
            SELECT array_agg(a.job_id ORDER BY a.finished_at, a.id) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE j.type = $1
            """, type);
        Assert.Equal([high, highLater, normal, low], order);
    }

    [Fact]
    public async Task A_delayed_job_does_not_start_before_its_run_at_and_starts_without_waiting_for_the_poll()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
            // The worker's timer for the next due job must start it, not the poll.
            ["Jobs:PollInterval"] = "00:01:00",
        });
        long id;
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            id = (await queueHost.Services.GetRequiredService<IJobQueue>().EnqueueAsync(
                new JobRequest(type, new { key = "delayed" }) { Delay = TimeSpan.FromSeconds(2) })).JobId;
            await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Succeeded, Timeout);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        // Both sides on the database's clock: run_at is the enqueue's now() + 2 s, started_at the claim's clock.
        Assert.True(await JobsTestData.ScalarAsync<bool>(servers.DataSource,
            "SELECT run_at = created_at + interval '2 seconds' FROM jobs WHERE id = $1", id), "the delay was not applied");
        Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource,
            "SELECT count(*) FROM job_attempts a JOIN jobs j ON j.id = a.job_id WHERE a.job_id = $1 AND a.started_at >= j.run_at", id));
        Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM job_attempts WHERE job_id = $1", id));
    }
}
