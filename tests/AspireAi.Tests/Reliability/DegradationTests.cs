using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Api.RateLimiting;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using AspireAi.Tests.RateLimiting;
using AspireAi.Tests.Redis;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspireAi.Tests.Reliability;

/// <summary>
/// Cells of the degradation matrix (docs/operations.md) not covered elsewhere, each breaking the dependency for
/// real: Redis killed under the rate limits and caches, Postgres stopped under an idempotent POST, the embedding
/// model failing under a chat turn, a provider outage under an idempotent stream.
/// </summary>
public sealed class DegradationTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Redis_killed_mid_traffic_chat_answers_with_local_limits_auth_fails_closed_and_redis_is_used_again_after_a_restart()
    {
        var redis = await TestServers.StartPrivateRedisAsync();
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["RateLimits:AuthFailClosed"] = "true",
            ["RateLimits:InstanceCount"] = "2",
            ["RateLimits:Plans:standard:Chat:Capacity"] = "4",
            ["RateLimits:Plans:standard:Chat:PerMinute"] = "1",
        });
        var (client, user) = await api.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        using (var before = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "before the outage" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        await redis.KillAsync();
        var statuses = new List<HttpStatusCode>();
        var remaining = new List<string>();
        for (var i = 0; i < 3; i++)
        {
            using var during = await client.SendAsync(ChatTestData.SendRequest(id, new { content = $"during the outage {i}" }, stream: false));
            statuses.Add(during.StatusCode);
            remaining.Add(RateLimitApiTests.Header(during, "RateLimit"));
        }
        using var signIn = await api.CreateClient().PostAsJsonAsync("/v1/auth/token", new { email = user.Email, password = user.Password });

        // Half of the bucket per instance (2 of 4): two answers, then 429; the answers are real.
        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
        Assert.Equal(["\"chat\";r=1;", "\"chat\";r=0;", "\"chat\";r=0;"], remaining.Select(r => r[..(r.IndexOf(";t=", StringComparison.Ordinal) + 1)]));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, signIn.StatusCode);
        Assert.NotNull(signIn.Headers.RetryAfter);
        Assert.Equal("Rate limiting unavailable", (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        Assert.Equal(6, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));

        // Recovery without a restart of the Api: once the pause after the failure is over, buckets are in Redis again.
        await redis.StartAsync();
        var multiplexer = api.Services.GetRequiredService<IConnectionMultiplexer>();
        await RedisTestClients.WaitUntilConnectedAsync(multiplexer);
        var key = TokenBuckets.Key(RateLimitClass.Default, $"user:{user.Id}");
        var backInRedis = false;
        for (var waited = TimeSpan.Zero; !backInRedis && waited < TimeSpan.FromSeconds(30); waited += TimeSpan.FromSeconds(1))
        {
            using var list = await client.GetAsync("/v1/conversations");
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
            backInRedis = await multiplexer.GetDatabase().KeyExistsAsync(key);
            if (!backInRedis)
            {
                await Task.Delay(1000);
            }
        }
        Assert.True(backInRedis, "The rate limits did not return to Redis within 30 s of its restart.");
        using var signInAgain = await api.CreateClient().PostAsJsonAsync("/v1/auth/token", new { email = user.Email, password = user.Password });
        Assert.Equal(HttpStatusCode.OK, signInAgain.StatusCode);
    }

    [Fact]
    public async Task Postgres_stopped_under_an_idempotent_post_is_a_503_that_writes_nothing_and_the_same_key_works_after_it_returns()
    {
        var postgres = await TestServers.StartPrivatePostgresAsync();
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["ConnectionStrings:postgres"] = postgres.ConnectionString });
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, _) = await ChatFailureTests.CreateUserOnAsync(api, dataSource);
        var key = Guid.NewGuid().ToString();

        await postgres.StopAsync();
        using var down = await client.SendAsync(Post("/v1/conversations", new { title = "During the outage" }, key));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Equal("application/problem+json", down.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(down.Headers.RetryAfter);

        await postgres.StartAsync();
        HttpStatusCode? status = null;
        for (var waited = TimeSpan.Zero; status != HttpStatusCode.Created && waited < TimeSpan.FromSeconds(20); waited += TimeSpan.FromMilliseconds(250))
        {
            using var retry = await client.SendAsync(Post("/v1/conversations", new { title = "During the outage" }, key));
            status = retry.StatusCode;
            if (status != HttpStatusCode.Created)
            {
                await Task.Delay(250);
            }
        }
        Assert.Equal(HttpStatusCode.Created, status);
        using var replay = await client.SendAsync(Post("/v1/conversations", new { title = "During the outage" }, key));
        Assert.Equal("true", RateLimitApiTests.Header(replay, "Idempotent-Replayed"));
        // The test's own pooled connections died with the server.
        dataSource.Clear();
        Assert.Equal(1, await ChatTestData.CountAsync(dataSource, "SELECT count(*) FROM conversations WHERE title = 'During the outage'"));
        Assert.Equal(1, await ChatTestData.CountAsync(dataSource, "SELECT count(*) FROM idempotency_keys WHERE key = $1", key));
    }

    [Fact]
    public async Task A_failing_embedding_model_leaves_chat_answering_without_retrieval_and_says_so_in_the_logs()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        for (var i = 0; i < 50; i++)
        {
            fake.EnqueueEmbeddings(FakeOpenAiReply.Status(500));
        }
        using var logs = new CapturingLoggerProvider();
        var settings = ChatFailureTests.OpenAiSettings(fake);
        settings["Llm:EmbeddingProvider"] = "OpenAICompatible";
        settings["Llm:EmbeddingModel"] = "fake-embedding";
        await using var configured = factory.WithSettings(settings);
        await using var api = configured.WithHost(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        var (client, _) = await api.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Where do I live?" }, stream: false));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.False(string.IsNullOrEmpty(reply.GetProperty("content").GetString()));
        Assert.Empty(reply.GetProperty("memoryIds").EnumerateArray());
        Assert.NotEmpty(fake.EmbeddingRequests);
        Assert.Contains(logs.Entries, e => e.Level == LogLevel.Warning && e.Message.Contains("failed; answering without it", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_provider_outage_under_an_idempotent_stream_is_not_stored_so_the_retry_runs_again()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = FakeOpenAiReply.Status(500);
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        var key = Guid.NewGuid().ToString();

        using var failed = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Are you there?" }), key));
        var failedEvents = await failed.Content.ReadAsStringAsync();
        fake.DefaultChatReply = FakeOpenAiReply.Text("I am here now.");
        using var retried = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Are you there?" }), key));
        var retriedEvents = await retried.Content.ReadAsStringAsync();

        Assert.Contains("event: error", failedEvents, StringComparison.Ordinal);
        Assert.False(retried.Headers.Contains("Idempotent-Replayed"));
        Assert.Contains("event: done", retriedEvents, StringComparison.Ordinal);
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM idempotency_keys WHERE user_id = $1 AND status = 'completed'", user.Id));
    }

    private static HttpRequestMessage Post(string path, object body, string key) =>
        WithKey(new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) }, key);

    private static HttpRequestMessage WithKey(HttpRequestMessage request, string key)
    {
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return request;
    }
}
