using System.Diagnostics.Metrics;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Tests.Jobs;

/// <summary>What operators watch (the "AspireAi.Jobs" instruments of a real worker host) and a shutdown that outlasts its grace period.</summary>
public sealed class JobMetricsAndShutdownTests
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);

    [Fact]
    public async Task A_worker_reports_attempts_by_outcome_durations_in_flight_and_the_queue_gauges_per_type()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var handled = JobsTestData.NewType();
        var waiting = JobsTestData.NewType("test.unhandled");
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = handled,
            ["Jobs:HandledTypes:0"] = handled,
            [$"Jobs:Types:{handled}:MaxAttempts"] = "2",
            [$"Jobs:Types:{handled}:BackoffBase"] = "00:00:00.050",
            [$"Jobs:Types:{handled}:BackoffCap"] = "00:00:00.100",
            ["Jobs:MetricsRefreshInterval"] = "00:00:00.200",
        });
        var host = hosts.Single();
        using var recorder = new JobsMeterRecorder(host.Services.GetRequiredService<IMeterFactory>());
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            var ok = await queue.EnqueueAsync(new JobRequest(handled, new { key = "ok", sleepMs = 300 }));
            var poison = await queue.EnqueueAsync(new JobRequest(handled, new { key = "poison", failUntilFlag = $"never-{Guid.NewGuid():N}" }));
            // Nobody handles this type: two due jobs wait, so the depth and the age of the oldest are visible.
            await queue.EnqueueAsync(new JobRequest(waiting));
            await queue.EnqueueAsync(new JobRequest(waiting));
            await JobsTestData.WaitForStatusAsync(servers.DataSource, ok.JobId, JobStatus.Succeeded, Timeout);
            await JobsTestData.WaitForStatusAsync(servers.DataSource, poison.JobId, JobStatus.Dead, Timeout);

            // The gauges read a snapshot refreshed in the background: observe until it has caught up.
            await JobsTestData.WaitUntilAsync(() =>
            {
                recorder.ObserveGauges();
                return Task.FromResult(recorder.Gauge("aspireai.jobs.dead", handled) == 1
                    && recorder.Gauge("aspireai.jobs.queue.depth", waiting, JobStatus.Queued) == 2
                    && recorder.Gauge("aspireai.jobs.queue.oldest_age", waiting) > 0);
            }, Timeout, "the queue gauges to show the dead and the waiting jobs", recorder.Describe);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }

        Assert.Equal(1, recorder.Sum("aspireai.jobs.attempts", handled, JobAttemptOutcome.Succeeded));
        Assert.Equal(1, recorder.Sum("aspireai.jobs.attempts", handled, JobAttemptOutcome.Failed));
        Assert.Equal(1, recorder.Sum("aspireai.jobs.attempts", handled, JobStatus.Dead));
        // Every started attempt finished: in flight went up three times and back down to zero.
        Assert.Equal(3, recorder.Count("aspireai.jobs.in_flight", handled, positiveOnly: true));
        Assert.Equal(0, recorder.Sum("aspireai.jobs.in_flight", handled));
        // The successful attempt slept 300 ms inside its handler, and its duration says so. Timers tick in whole
        // milliseconds, so Task.Delay(300) can end a fraction of one early by the stopwatch (a CI run measured 0.299).
        Assert.True(recorder.Max("aspireai.jobs.duration", handled, JobAttemptOutcome.Succeeded) >= 0.295, recorder.Describe());
        Assert.True(recorder.Count("aspireai.jobs.claim.duration", type: null) > 0);
    }

    [Fact]
    public async Task A_job_still_running_when_the_grace_period_ends_is_cancelled_rolled_back_and_its_lease_handed_back()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        Dictionary<string, string?> settings = new()
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            ["Jobs:HandledTypes:0"] = type,
            ["Jobs:ShutdownGracePeriod"] = "00:00:00.500",
            // The next worker reclaims expired leases on its heartbeat; the lease is still 10 s, so only the
            // shutdown ending it (asserted below) lets the next worker take the job over at once.
            ["Jobs:LeaseDuration"] = "00:00:10",
            ["Jobs:HeartbeatInterval"] = "00:00:00.500",
        };
        var first = (await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, settings)).Single();
        using var recorder = new JobsMeterRecorder(first.Services.GetRequiredService<IMeterFactory>());
        IReadOnlyList<IHost>? second = null;
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            // Writes its effect, then sleeps far past the grace period on the first attempt only.
            var job = await queue.EnqueueAsync(new JobRequest(type, new { key = "slow", sleepMs = 120_000, sleepAttempts = 1 }));
            await JobsTestData.WaitForStatusAsync(servers.DataSource, job.JobId, JobStatus.Running, Timeout);
            // 'running' in the table means claimed; a claimed job that has not started yet is released on shutdown
            // instead (another path). Wait until the handler really runs.
            await JobsTestData.WaitUntilAsync(() => Task.FromResult(recorder.Count("aspireai.jobs.in_flight", type, positiveOnly: true) == 1),
                Timeout, "the handler to start", recorder.Describe);
            var firstWorker = JobsTestData.WorkerId(first);

            await JobsTestData.StopAsync([first]);

            // The abandoned attempt's effect rolled back with its transaction, and its lease was ended on the way out.
            // Any worker of the test run (other tests' too) may reclaim an ended lease at once: then the job is queued.
            Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", job.JobId));
            Assert.True(await JobsTestData.ScalarAsync<bool>(servers.DataSource,
                "SELECT coalesce(lease_expires_at <= now(), status = 'queued') FROM jobs WHERE id = $1", job.JobId), "the lease was not handed back");

            second = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, settings);
            await JobsTestData.WaitForStatusAsync(servers.DataSource, job.JobId, JobStatus.Succeeded, Timeout);

            // Exactly once in effect: one committed effect, by the second worker, on the second attempt.
            Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", job.JobId));
            Assert.Equal(2, await JobsTestData.ScalarAsync<int>(servers.DataSource, "SELECT attempt FROM jobs_test_effects WHERE job_id = $1", job.JobId));
            Assert.NotEqual(firstWorker, await JobsTestData.ScalarAsync<string>(servers.DataSource,
                "SELECT worker_id FROM jobs_test_effects WHERE job_id = $1", job.JobId));
        }
        finally
        {
            if (second is not null)
            {
                await JobsTestData.StopAsync(second);
            }
        }
    }
}
