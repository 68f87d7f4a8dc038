using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;

namespace AspireAi.Tests.Jobs;

public sealed class JobsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Jobs_are_listed_newest_first_filtered_and_paged_with_a_cursor()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var type = JobsTestData.NewType("test.idle");
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await EnqueueAsync(admin, new { type, payload = new { n = i }, priority = i }));
        }
        ids.Reverse();

        var seen = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs?type={type}&status=queued&limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(j => j.GetProperty("id").GetInt64()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null);
        Assert.Equal(ids, seen);
        Assert.Equal(3, pages);

        var dead = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs?type={type}&status=dead");
        Assert.Empty(dead.GetProperty("items").EnumerateArray());

        var details = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{ids[0]}");
        Assert.Equal(4, details.GetProperty("payload").GetProperty("n").GetInt32());
        Assert.Equal((type, "queued", 4, 0), (details.GetProperty("job").GetProperty("type").GetString(), details.GetProperty("job").GetProperty("status").GetString(),
            details.GetProperty("job").GetProperty("priority").GetInt32(), details.GetProperty("job").GetProperty("attempts").GetInt32()));
        Assert.Empty(details.GetProperty("attempts").EnumerateArray());

        var stats = await admin.GetFromJsonAsync<JsonElement>("/v1/admin/jobs/stats");
        var mine = stats.GetProperty("types").EnumerateArray().Single(t => t.GetProperty("type").GetString() == type);
        Assert.Equal((5, 0, 0, 0), (mine.GetProperty("queued").GetInt64(), mine.GetProperty("scheduled").GetInt64(),
            mine.GetProperty("running").GetInt64(), mine.GetProperty("dead").GetInt64()));
        Assert.True(mine.GetProperty("oldestQueuedAgeSeconds").GetDouble() >= 0);
    }

    [Fact]
    public async Task Queued_jobs_can_be_cancelled_and_cancelled_or_dead_ones_replayed_other_states_conflict()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var type = JobsTestData.NewType("test.idle");
        var queued = await EnqueueAsync(admin, new { type, delaySeconds = 3600 });
        var running = await EnqueueAsync(admin, new { type });
        var dead = await EnqueueAsync(admin, new { type });
        await ExecuteAsync("UPDATE jobs SET status = 'running', attempts = 1, started_at = now(), lease_owner = 'test', lease_expires_at = now() + interval '1 hour' WHERE id = $1", running);
        await ExecuteAsync("UPDATE jobs SET status = 'dead', attempts = 5, last_error = 'boom', finished_at = now() WHERE id = $1", dead);

        using var cancel = await admin.PostAsync($"/v1/admin/jobs/{queued}/cancel", null);
        Assert.Equal(HttpStatusCode.OK, cancel.StatusCode);
        Assert.Equal(JobStatus.Cancelled, (await cancel.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetString());
        await AssertProblemAsync(await admin.PostAsync($"/v1/admin/jobs/{queued}/cancel", null), HttpStatusCode.Conflict, "already cancelled");
        await AssertProblemAsync(await admin.PostAsync($"/v1/admin/jobs/{running}/cancel", null), HttpStatusCode.Conflict, "is running");
        await AssertProblemAsync(await admin.PostAsync($"/v1/admin/jobs/{running}/replay", null), HttpStatusCode.Conflict, "is running");

        foreach (var id in new[] { queued, dead })
        {
            using var replay = await admin.PostAsync($"/v1/admin/jobs/{id}/replay", null);
            Assert.Equal(HttpStatusCode.OK, replay.StatusCode);
            var job = await replay.Content.ReadFromJsonAsync<JsonElement>();
            Assert.Equal((JobStatus.Queued, 0, 1), (job.GetProperty("status").GetString(), job.GetProperty("attempts").GetInt32(), job.GetProperty("replays").GetInt32()));
        }
        // The dead job's last error is kept for the record; a queued job cannot be replayed.
        Assert.Equal("boom", (await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{dead}")).GetProperty("job").GetProperty("lastError").GetString());
        await AssertProblemAsync(await admin.PostAsync($"/v1/admin/jobs/{dead}/replay", null), HttpStatusCode.Conflict, "is queued");

        await AssertProblemAsync(await admin.GetAsync("/v1/admin/jobs/999999999999"), HttpStatusCode.NotFound, "no job");
        await AssertProblemAsync(await admin.PostAsync("/v1/admin/jobs/999999999999/replay", null), HttpStatusCode.NotFound, "no job");
        await AssertProblemAsync(await admin.PostAsync("/v1/admin/jobs/999999999999/cancel", null), HttpStatusCode.NotFound, "no job");
    }

    [Fact]
    public async Task The_jobs_api_is_for_administrators_only()
    {
        var (user, _) = await factory.CreateUserClientAsync();
        using var anonymous = factory.CreateClient();
        foreach (var (method, path) in new[] { ("GET", "/v1/admin/jobs"), ("GET", "/v1/admin/jobs/stats"), ("GET", "/v1/admin/jobs/1"),
            ("POST", "/v1/admin/jobs/1/replay"), ("POST", "/v1/admin/jobs/1/cancel"), ("POST", "/v1/admin/jobs") })
        {
            using var forbidden = await user.SendAsync(new HttpRequestMessage(new HttpMethod(method), path) { Content = JsonContent.Create(new { type = "x" }) });
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
            using var unauthorized = await anonymous.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
            Assert.Equal(HttpStatusCode.Unauthorized, unauthorized.StatusCode);
        }
    }

    [Theory]
    [InlineData("?status=bogus", "status")]
    [InlineData("?cursor=not-a-cursor", "cursor")]
    [InlineData("?cursor=MTIz", "cursor")]
    [InlineData("?limit=0", "limit")]
    [InlineData("?limit=abc", "limit")]
    [InlineData("?type=Bad%20Type", "type")]
    public async Task Bad_list_parameters_are_a_validation_problem_naming_the_field(string query, string field)
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        using var response = await admin.GetAsync($"/v1/admin/jobs{query}");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal([field], errors.EnumerateObject().Select(e => e.Name));
    }

    [Fact]
    public async Task A_bad_enqueue_request_is_a_validation_problem_naming_the_fields()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        using var response = await admin.PostAsJsonAsync("/v1/admin/jobs", new { type = "Not A Type", maxAttempts = 0, delaySeconds = -1 });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["delayseconds", "maxattempts", "type"], errors.EnumerateObject().Select(e => e.Name.ToLowerInvariant()).Order(StringComparer.Ordinal));
    }

    [Theory]
    [InlineData("""{"type":"TYPE","payload":{"text":"a\u0000b"}}""", "payload")]
    [InlineData("""{"type":"TYPE","payload":{"nested":[{"a\u0000":1}]}}""", "payload")]
    [InlineData("""{"type":"TYPE","payload":{"n":1e1000000}}""", "payload")]
    [InlineData("""{"type":"TYPE","payload":{"n":1e400}}""", "payload")]
    [InlineData("""{"type":"TYPE","payload":{"n":0e-20000}}""", "payload")]
    [InlineData("""{"type":"TYPE","payload":{"s":"\ud800"}}""", "payload")]
    [InlineData("""{"type":"TYPE","dedupeKey":"a\u0000b"}""", "dedupeKey")]
    [InlineData("""{"type":"TYPE","dedupeKey":"line\nbreak"}""", "dedupeKey")]
    [InlineData("""{"type":"TYPE\u0000"}""", "type")]
    [InlineData("""{"type":"TYPE\n"}""", "type")]
    public async Task An_enqueue_postgres_could_not_store_is_a_validation_problem_naming_the_field_and_writes_nothing(string body, string field)
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var type = JobsTestData.NewType("test.idle");
        using var content = new StringContent(body.Replace("TYPE", type, StringComparison.Ordinal), Encoding.UTF8, "application/json");
        using var response = await admin.PostAsync("/v1/admin/jobs", content);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal([field], errors.EnumerateObject().Select(e => e.Name));
        Assert.Equal(0, await JobsTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM jobs WHERE starts_with(type, $1)", type));
    }

    [Fact]
    public async Task A_payload_at_the_edges_of_what_postgres_stores_is_enqueued_as_sent()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var type = JobsTestData.NewType("test.idle");
        var body = $$$"""{"type":"{{{type}}}","dedupeKey":"k\u00fc\ud83d\ude00","payload":{"max":1.7976931348623157e308,"tiny":1e-300,"ctl":"\u0001\t"}}""";
        using var content = new StringContent(body, Encoding.UTF8, "application/json");
        using var response = await admin.PostAsync("/v1/admin/jobs", content);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
        var payload = (await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{id}")).GetProperty("payload");
        Assert.Equal((double.MaxValue, 1e-300, "\u0001\t"), (payload.GetProperty("max").GetDouble(), payload.GetProperty("tiny").GetDouble(), payload.GetProperty("ctl").GetString()));
    }

    [Fact]
    public async Task Replaying_a_job_that_is_not_dead_or_cancelled_or_cancelling_a_finished_one_is_a_conflict_that_says_why()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var type = JobsTestData.NewType("test.idle");
        var queued = await EnqueueAsync(admin, new { type, delaySeconds = 3600 });
        var running = await EnqueueAsync(admin, new { type });
        var succeeded = await EnqueueAsync(admin, new { type });
        var dead = await EnqueueAsync(admin, new { type });
        await ExecuteAsync("UPDATE jobs SET status = 'running', attempts = 1, started_at = now(), lease_owner = 'test', lease_expires_at = now() + interval '1 hour' WHERE id = $1", running);
        await ExecuteAsync("UPDATE jobs SET status = 'succeeded', attempts = 1, finished_at = now() WHERE id = $1", succeeded);
        await ExecuteAsync("UPDATE jobs SET status = 'dead', attempts = 5, last_error = 'boom', finished_at = now() WHERE id = $1", dead);

        foreach (var (id, status) in new[] { (queued, JobStatus.Queued), (running, JobStatus.Running), (succeeded, JobStatus.Succeeded) })
        {
            await AssertProblemAsync(await admin.PostAsync($"/v1/admin/jobs/{id}/replay", null), HttpStatusCode.Conflict,
                $"Only dead or cancelled jobs can be replayed; job {id} is {status}.");
        }
        foreach (var (id, status) in new[] { (succeeded, JobStatus.Succeeded), (dead, JobStatus.Dead) })
        {
            await AssertProblemAsync(await admin.PostAsync($"/v1/admin/jobs/{id}/cancel", null), HttpStatusCode.Conflict,
                $"Job {id} is already {status}; only queued jobs can be cancelled.");
        }
        // Refused means untouched.
        Assert.Equal("queued,running,succeeded,dead:0", await JobsTestData.ScalarAsync<string>(factory.DataSource,
            "SELECT string_agg(status, ',' ORDER BY id) || ':' || sum(replays) FROM jobs WHERE type = $1", type));
    }

    [Theory]
    [InlineData("GET", "/v1/admin/jobs/abc")]
    [InlineData("GET", "/v1/admin/jobs/99999999999999999999")]
    [InlineData("POST", "/v1/admin/jobs/abc/replay")]
    [InlineData("POST", "/v1/admin/jobs/1.5/cancel")]
    public async Task A_job_id_that_is_not_a_number_is_a_not_found_problem(string method, string path)
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        using var response = await admin.SendAsync(new HttpRequestMessage(new HttpMethod(method), path));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(404, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("status").GetInt32());
    }

    [Theory]
    [InlineData("Development")] // the developer exception page runs first
    [InlineData("Production")]  // the exception handler
    public async Task A_full_queue_answers_503_with_retry_after_and_a_problem_naming_the_queue_and_writes_nothing(string environment)
    {
        var type = JobsTestData.NewType("test.idle");
        await using var limited = factory
            .WithSettings(new Dictionary<string, string?>
            {
                [$"Jobs:Types:{type}:MaxQueuedDepth"] = "2",
                [$"Jobs:Types:{type}:RetryAfter"] = "00:00:07",
            })
            .WithHost(builder => builder.UseEnvironment(environment));
        var (admin, _) = await limited.CreateAdminClientAsync();
        await EnqueueAsync(admin, new { type });
        await EnqueueAsync(admin, new { type });

        using var refused = await admin.PostAsJsonAsync("/v1/admin/jobs", new { type, payload = new { n = 3 } });
        Assert.Equal(HttpStatusCode.ServiceUnavailable, refused.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(7), refused.Headers.RetryAfter?.Delta);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("The job queue is full", problem.GetProperty("title").GetString());
        Assert.Contains($"'{type}' queue holds 2 queued jobs", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal((type, 2, 7), (problem.GetProperty("queue").GetString(), problem.GetProperty("maxQueuedDepth").GetInt32(), problem.GetProperty("retryAfterSeconds").GetInt32()));
        Assert.Equal(2, await JobsTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM jobs WHERE type = $1", type));
    }

    private static async Task<long> EnqueueAsync(HttpClient client, object request)
    {
        using var response = await client.PostAsJsonAsync("/v1/admin/jobs", request);
        Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        var job = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal($"/v1/admin/jobs/{job.GetProperty("id").GetInt64()}", response.Headers.Location?.OriginalString);
        return job.GetProperty("id").GetInt64();
    }

    private async Task ExecuteAsync(string sql, long id)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = id });
        Assert.Equal(1, await command.ExecuteNonQueryAsync());
    }

    private static async Task AssertProblemAsync(HttpResponseMessage response, HttpStatusCode status, string detail)
    {
        using (response)
        {
            Assert.Equal(status, response.StatusCode);
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            Assert.Contains(detail, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
    }
}
