using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Api.RateLimiting;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Jobs;
using AspireAi.Tests.RateLimiting;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace AspireAi.Tests.Reliability;

/// <summary>
/// Two Api instances and two Workers processes over one Postgres and one Redis, as <c>--api-replicas 2
/// --workers-replicas 2</c> runs them: the limits are shared, a refresh token rotated on one instance is refused on
/// the other, a stream (and its idempotent replay) is served by either, and each job runs once. The Api instances
/// are in process (two hosts of the real Api, each with its own DI container, caches and limiter) rather than the
/// whole AppHost twice; the Workers are the real Workers service started as processes.
/// </summary>
public sealed class ReplicaTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Rate_limits_are_shared_by_the_api_instances()
    {
        var settings = new Dictionary<string, string?>
        {
            ["RateLimits:Plans:standard:Chat:Capacity"] = "4",
            ["RateLimits:Plans:standard:Chat:PerMinute"] = "1",
        };
        await using var a = factory.WithSettings(settings);
        await using var b = factory.WithSettings(settings);
        var (onA, user) = await a.CreateUserClientAsync();
        using var onB = SameCaller(b, onA);
        var id = await ChatTestData.CreateConversationAsync(onA);

        var answers = new List<(HttpStatusCode Status, string Remaining)>();
        foreach (var client in new[] { onA, onB, onA, onB, onA, onB })
        {
            using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = $"message {answers.Count}" }, stream: false));
            var header = RateLimitApiTests.Header(response, "RateLimit");
            answers.Add((response.StatusCode, header[..(header.IndexOf(";t=", StringComparison.Ordinal) + 1)]));
        }

        // One bucket of 4 for both instances: each instance alone would have allowed 4.
        Assert.Equal(
            [
                (HttpStatusCode.OK, "\"chat\";r=3;"), (HttpStatusCode.OK, "\"chat\";r=2;"), (HttpStatusCode.OK, "\"chat\";r=1;"),
                (HttpStatusCode.OK, "\"chat\";r=0;"), (HttpStatusCode.TooManyRequests, "\"chat\";r=0;"), (HttpStatusCode.TooManyRequests, "\"chat\";r=0;"),
            ],
            answers);
        var redis = a.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        Assert.True(await redis.KeyExistsAsync(TokenBuckets.Key(RateLimitClass.Chat, $"user:{user.Id}")));
        Assert.Equal(4L, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1 AND role = 'assistant'", id));
    }

    [Fact]
    public async Task A_refresh_token_rotated_on_one_instance_is_refused_on_the_other()
    {
        await using var a = factory.WithSettings(new Dictionary<string, string?>());
        await using var b = factory.WithSettings(new Dictionary<string, string?>());
        var (_, user) = await a.CreateUserClientAsync();
        using var anonymousA = a.CreateClient();
        using var anonymousB = b.CreateClient();

        var rotated = await (await anonymousA.RefreshAsync(user.RefreshToken)).ReadTokensAsync();
        var rotatedAgain = await (await anonymousB.RefreshAsync(rotated.RefreshToken)).ReadTokensAsync();
        using var replayedOnB = await anonymousB.RefreshAsync(user.RefreshToken);
        // Reuse of a rotated token is treated as theft (Auth tests): the whole family goes, on every instance.
        using var latestOnA = await anonymousA.RefreshAsync(rotatedAgain.RefreshToken);

        await replayedOnB.ReadProblemAsync(HttpStatusCode.Unauthorized);
        await latestOnA.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_stream_is_served_by_either_instance_and_replayed_by_the_other()
    {
        await using var a = factory.WithSettings(new Dictionary<string, string?>());
        await using var b = factory.WithSettings(new Dictionary<string, string?>());
        var (onA, _) = await a.CreateUserClientAsync();
        using var onB = SameCaller(b, onA);
        var id = await ChatTestData.CreateConversationAsync(onA);

        // Created on A, streamed on B, read back on A.
        using var streamed = await onB.SendAsync(ChatTestData.SendRequest(id, new { content = "Hello from the other instance" }), HttpCompletionOption.ResponseHeadersRead);
        var events = await SseReader.ReadAllAsync(streamed);
        var history = await onA.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}/messages");

        Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
        Assert.Equal("done", events[^1].Event);
        var text = string.Concat(events.Where(e => e.Event == "delta").Select(e => e.Data.GetProperty("text").GetString()));
        Assert.False(string.IsNullOrWhiteSpace(text));
        Assert.Contains(history.GetProperty("items").EnumerateArray(), m => m.GetProperty("content").GetString() == text);

        // The same Idempotency-Key on the other instance: the stored events, no second turn.
        var key = Guid.NewGuid().ToString();
        using var first = await onA.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Once, on either instance" }), key));
        var firstBytes = await first.Content.ReadAsByteArrayAsync();
        using var again = await onB.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Once, on either instance" }), key));

        Assert.Equal("true", RateLimitApiTests.Header(again, "Idempotent-Replayed"));
        Assert.Equal(firstBytes, await again.Content.ReadAsByteArrayAsync());
        // Message text is encrypted at rest: count the decrypted rows.
        Assert.Single(await ChatTestData.MessagesAsync(factory.DataSource, id), m => m.Role == "user" && m.Content == "Once, on either instance");
    }

    [Fact]
    public async Task Jobs_enqueued_through_two_api_instances_run_once_each_on_two_workers_instances()
    {
        var servers = await TestServers.GetAsync();
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType();
        await using var a = factory.WithSettings(new Dictionary<string, string?> { ["RateLimits:Enabled"] = "false" });
        await using var b = factory.WithSettings(new Dictionary<string, string?> { ["RateLimits:Enabled"] = "false" });
        var (adminOnA, _) = await a.CreateAdminClientAsync();
        using var adminOnB = SameCaller(b, adminOnA);
        var settings = new Dictionary<string, string>
        {
            ["Jobs:TestHandlers:EffectTypes"] = type,
            // The database is shared with other tests: these processes run this test's jobs only.
            ["Jobs:HandledTypes:0"] = type,
        };
        const int Jobs = 20;

        await using var workersOne = WorkersProcess.Start(servers, settings);
        await using var workersTwo = WorkersProcess.Start(servers, settings);
        for (var i = 0; i < Jobs; i++)
        {
            using var response = await (i % 2 == 0 ? adminOnA : adminOnB).PostAsJsonAsync("/v1/admin/jobs", new { type, payload = new { key = $"job-{i}" } });
            Assert.Equal(HttpStatusCode.Created, response.StatusCode);
        }
        await JobsTestData.WaitUntilAsync(
            async () => await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1 AND status = $2", type, JobStatus.Succeeded) == Jobs,
            TimeSpan.FromSeconds(60), $"{Jobs} jobs to succeed", () => workersOne.Output + "\n----\n" + workersTwo.Output);

        Assert.Equal((long)Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.Equal((long)Jobs, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(DISTINCT job_id) FROM jobs_test_effects WHERE job_type = $1", type));
        Assert.False(workersOne.HasExited || workersTwo.HasExited);
    }

    // A client of another instance that sends the same credentials (and comes from the same address).
    private static HttpClient SameCaller(ApiFactory instance, HttpClient client)
    {
        var address = System.Net.IPAddress.Parse(client.DefaultRequestHeaders.GetValues(ApiFactory.ClientAddressHeader).Single());
        var other = instance.CreateClient(address);
        other.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        return other;
    }

    private static HttpRequestMessage WithKey(HttpRequestMessage request, string key)
    {
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return request;
    }
}
