using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Jobs;

/// <summary>Real Workers processes on the real database: crashes, poison jobs and recurring slots.</summary>
public sealed class JobProcessTests(ApiFactory api) : IClassFixture<ApiFactory>
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(45);

    private static Dictionary<string, string> WorkerSettings(string type, params (string Key, string Value)[] extra)
    {
        var settings = new Dictionary<string, string>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            // The database is shared with other tests: this process runs this test's jobs only (not, say, the
            // memory.extract jobs that chat tests enqueue), and schedules only its recurring job.
            ["Jobs:HandledTypes:0"] = type,
            ["Jobs:LeaseDuration"] = "00:00:02",
            ["Jobs:HeartbeatInterval"] = "00:00:00.400",
        };
        foreach (var (key, value) in extra)
        {
            settings[key] = value;
        }
        return settings;
    }

    [Fact]
    public async Task A_worker_killed_mid_job_leaves_it_to_another_which_completes_it_exactly_once_after_the_lease_expires()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var (client, _) = await api.CreateAdminClientAsync();

        await using var first = WorkersProcess.Start(servers, WorkerSettings(type));
        // The first attempt writes its effect, then hangs: the effect is uncommitted when the process dies.
        var id = await EnqueueAsync(client, type, new { key = "crash", sleepMs = 120_000, sleepAttempts = 1 });
        await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Running, Timeout, () => first.Output);
        var firstOwner = await JobsTestData.ScalarAsync<string>(servers.DataSource, "SELECT lease_owner FROM jobs WHERE id = $1", id);

        await first.KillAsync();
        await using var second = WorkersProcess.Start(servers, WorkerSettings(type));
        await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Succeeded, Timeout, () => second.Output);

        Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", id));
        Assert.Equal(2, await JobsTestData.ScalarAsync<int>(servers.DataSource, "SELECT attempt FROM jobs_test_effects WHERE job_id = $1", id));
        var details = await client.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{id}");
        var attempts = details.GetProperty("attempts").EnumerateArray().ToArray();
        Assert.Equal([(1, "lease_expired"), (2, "succeeded")], attempts.Select(a => (a.GetProperty("attempt").GetInt32(), a.GetProperty("outcome").GetString()!)));
        Assert.Equal(firstOwner, attempts[0].GetProperty("workerId").GetString());
        Assert.NotEqual(firstOwner, attempts[1].GetProperty("workerId").GetString());
        Assert.Contains(firstOwner, attempts[0].GetProperty("error").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_poison_job_becomes_dead_after_its_attempts_keeps_its_history_and_succeeds_when_replayed_once_fixed()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var flag = $"fixed-{Guid.NewGuid():N}";
        var (client, _) = await api.CreateAdminClientAsync();
        await using var workers = WorkersProcess.Start(servers, WorkerSettings(type,
            ($"Jobs:Types:{type}:MaxAttempts", "3"),
            ($"Jobs:Types:{type}:BackoffBase", "00:00:00.100"),
            ($"Jobs:Types:{type}:BackoffCap", "00:00:00.200")));

        var id = await EnqueueAsync(client, type, new { key = "poison", failUntilFlag = flag });
        await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Dead, Timeout, () => workers.Output);

        var dead = await client.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{id}");
        var job = dead.GetProperty("job");
        Assert.Equal((3, 3), (job.GetProperty("attempts").GetInt32(), job.GetProperty("maxAttempts").GetInt32()));
        Assert.Contains($"flag '{flag}' is not set", job.GetProperty("lastError").GetString(), StringComparison.Ordinal);
        var history = dead.GetProperty("attempts").EnumerateArray().ToArray();
        Assert.Equal([(1, "failed"), (2, "failed"), (3, "failed")], history.Select(a => (a.GetProperty("attempt").GetInt32(), a.GetProperty("outcome").GetString()!)));
        Assert.All(history, a => Assert.Contains("InvalidOperationException", a.GetProperty("error").GetString(), StringComparison.Ordinal));
        // Failed attempts rolled their effects back.
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", id));
        var stats = await client.GetFromJsonAsync<JsonElement>("/v1/admin/jobs/stats");
        Assert.Equal(1, stats.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == type).GetProperty("dead").GetInt64());

        // Fix the cause, replay: it runs again from attempt 1 and succeeds; the earlier history stays.
        await using (var fix = servers.DataSource.CreateCommand("INSERT INTO jobs_test_flags (name) VALUES ($1)"))
        {
            fix.Parameters.Add(new() { Value = flag });
            await fix.ExecuteNonQueryAsync();
        }
        using var replay = await client.PostAsync($"/v1/admin/jobs/{id}/replay", null);
        Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
        var replayed = await replay.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(JobStatus.Queued, replayed.GetProperty("status").GetString());
        Assert.Equal((0, 1), (replayed.GetProperty("attempts").GetInt32(), replayed.GetProperty("replays").GetInt32()));
        await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Succeeded, Timeout, () => workers.Output);

        Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_id = $1", id));
        var after = await client.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{id}");
        Assert.Equal([(1, "failed"), (2, "failed"), (3, "failed"), (1, "succeeded")],
            after.GetProperty("attempts").EnumerateArray().Select(a => (a.GetProperty("attempt").GetInt32(), a.GetProperty("outcome").GetString()!)));
        using var again = await client.PostAsync($"/v1/admin/jobs/{id}/replay", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
    }

    [Fact]
    public async Task A_recurring_job_runs_once_per_slot_with_two_workers_instances()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        var name = $"test.tick.{Guid.NewGuid():N}";
        var settings = WorkerSettings(type,
            ($"Jobs:Recurring:{name}:Schedule", "@every 1s"),
            ($"Jobs:Recurring:{name}:Type", type),
            ($"Jobs:Recurring:{name}:Payload", """{"key":"tick"}"""),
            // Both instances look often, so they race for most slots.
            ("Jobs:SchedulerInterval", "00:00:00.100"));
        const int Slots = 5;
        await using (var a = WorkersProcess.Start(servers, settings))
        await using (var b = WorkersProcess.Start(servers, settings))
        {
            await JobsTestData.WaitUntilAsync(
                async () => await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1 AND status = 'succeeded'", type) >= Slots,
                Timeout, $"{Slots} slots to run", () => a.Output + "\n----\n" + b.Output);
            Assert.False(a.HasExited || b.HasExited);
        }

        var keys = new List<string>();
        await using (var command = servers.DataSource.CreateCommand("SELECT dedupe_key FROM jobs WHERE type = $1 ORDER BY dedupe_key"))
        {
            command.Parameters.Add(new() { Value = type });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                keys.Add(reader.GetString(0));
            }
        }
        // One job per slot, slots on whole seconds, one committed effect per job.
        Assert.True(keys.Count >= Slots);
        Assert.Equal(keys.Count, keys.Distinct(StringComparer.Ordinal).Count());
        Assert.All(keys, k => Assert.Matches($"^{System.Text.RegularExpressions.Regex.Escape(name)}:\\d{{4}}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.0000000Z$", k));
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, """
            SELECT count(*) FROM (SELECT dedupe_key FROM jobs_test_effects WHERE job_type = $1 GROUP BY dedupe_key HAVING count(*) > 1) AS twice
            """, type));
        Assert.Equal(await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1 AND status = 'succeeded'", type),
            await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_type = $1", type));
    }

    private static async Task<long> EnqueueAsync(HttpClient client, string type, object payload)
    {
        using var response = await client.PostAsJsonAsync("/v1/admin/jobs", new { type, payload });
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }
}
