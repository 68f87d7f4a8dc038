using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Chat;

/// <summary>Each failure is caused for real: the client hangs up, the provider errors or hangs, Postgres dies.</summary>
public sealed class ChatFailureTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_client_disconnect_cancels_generation_and_keeps_the_partial_answer_as_cancelled()
    {
        await using var slow = factory.WithSettings(new Dictionary<string, string?> { ["Llm:Offline:TokenDelayMs"] = "40" });
        var (client, user) = await slow.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using (var cts = new CancellationTokenSource())
        using (var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Please write a long story about a lighthouse keeper and the sea." }),
            HttpCompletionOption.ResponseHeadersRead, cts.Token))
        {
            var deltas = 0;
            await foreach (var item in SseReader.ReadAsync(response, cts.Token))
            {
                if (item.Event == "delta" && ++deltas == 3)
                {
                    break;
                }
            }
            await cts.CancelAsync();
        }

        // The server notices the hang-up asynchronously; wait for it to finalise the row.
        await WaitForAsync(async () =>
            (await ChatTestData.MessagesAsync(factory.DataSource, id)) is { Count: 2 } r && r[1].Status != "streaming" ? (bool?)true : null);
        var rows = await ChatTestData.MessagesAsync(factory.DataSource, id);
        Assert.Equal(("user", "complete"), (rows[0].Role, rows[0].Status));
        Assert.Equal("cancelled", rows[1].Status);
        Assert.False(string.IsNullOrWhiteSpace(rows[1].Content));
        // What the provider produced before the hang-up is still charged, marked as an estimate.
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM usage_ledger WHERE user_id = $1 AND conversation_id = $2 AND estimated AND output_tokens > 0", user.Id, id));
    }

    [Fact]
    public async Task A_failing_provider_ends_the_stream_with_an_error_event_and_keeps_the_users_message()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = FakeOpenAiReply.Status(500);
        await using var failing = factory.WithSettings(OpenAiSettings(fake));
        var (client, _) = await failing.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Are you there?" }), HttpCompletionOption.ResponseHeadersRead);
        var events = await SseReader.ReadAllAsync(response);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var error = Assert.Single(events).Data;
        Assert.Equal("error", events[0].Event);
        Assert.Equal(503, error.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("title").GetString()));
        Assert.Equal(response.Headers.GetValues("X-Trace-Id").Single(), error.GetProperty("traceId").GetString());
        var rows = await ChatTestData.MessagesAsync(factory.DataSource, id);
        Assert.Equal(("user", "complete", "Are you there?"), (rows[0].Role, rows[0].Status, rows[0].Content));
        Assert.Equal("failed", rows[1].Status);
        Assert.NotEmpty(fake.ChatRequests);

        // Without SSE the same failure is a 503 ProblemDetails.
        using var json = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Still there?" }, stream: false));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, json.StatusCode);
        Assert.Equal("application/problem+json", json.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task A_hanging_provider_hits_the_request_timeout_and_answers_504()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = FakeOpenAiReply.Hang();
        var settings = OpenAiSettings(fake);
        settings["Chat:RequestTimeoutSeconds"] = "1";
        await using var hanging = factory.WithSettings(settings);
        var (client, _) = await hanging.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Hello?" }), HttpCompletionOption.ResponseHeadersRead);
        var events = await SseReader.ReadAllAsync(response);

        Assert.Equal("error", Assert.Single(events).Event);
        Assert.Equal(504, events[0].Data.GetProperty("status").GetInt32());
        await using var metadata = factory.DataSource.CreateCommand("SELECT status, metadata->>'error' FROM messages WHERE conversation_id = $1 AND role = 'assistant'");
        metadata.Parameters.Add(new() { Value = id });
        await using var reader = await metadata.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("failed", "timeout"), (reader.GetString(0), reader.GetString(1)));
    }

    [Fact]
    public async Task With_postgres_down_requests_get_a_503_problem_and_work_again_after_it_returns()
    {
        var postgres = await TestServers.StartPrivatePostgresAsync();
        await using var isolated = factory.WithSettings(new Dictionary<string, string?> { ["ConnectionStrings:postgres"] = postgres.ConnectionString });
        await using var dataSource = Npgsql.NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, _) = await CreateUserOnAsync(isolated, dataSource);
        var id = await ChatTestData.CreateConversationAsync(client);

        await postgres.StopAsync();
        using var down = await client.GetAsync($"/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.ServiceUnavailable, down.StatusCode);
        Assert.Equal("application/problem+json", down.Content.Headers.ContentType?.MediaType);
        Assert.NotNull(down.Headers.RetryAfter);

        await postgres.StartAsync();
        var up = await WaitForAsync(async () =>
        {
            using var r = await client.GetAsync($"/v1/conversations/{id}");
            return r.StatusCode == HttpStatusCode.OK ? (HttpStatusCode?)r.StatusCode : null;
        });
        Assert.Equal(HttpStatusCode.OK, up);
    }

    [Fact]
    public async Task With_redis_down_chat_still_answers_and_the_limit_is_kept_in_process()
    {
        var redis = await TestServers.StartPrivateRedisAsync();
        await using var isolated = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            ["RateLimits:Plans:standard:Chat:Capacity"] = "1",
            ["RateLimits:Plans:standard:Chat:PerMinute"] = "1",
        });
        var (client, _) = await isolated.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        // The override reached Aspire's registration: the Api talks to the private server killed below.
        Assert.Contains($":{redis.Options.Port}", isolated.Services.GetRequiredService<StackExchange.Redis.IConnectionMultiplexer>().Configuration, StringComparison.Ordinal);
        await redis.KillAsync();

        using var answered = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "is anyone there?" }, stream: false));
        using var limited = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "and again?" }, stream: false));

        Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        Assert.Equal(HttpStatusCode.TooManyRequests, limited.StatusCode);
    }

    internal static Dictionary<string, string?> OpenAiSettings(FakeOpenAiServer fake) => new()
    {
        ["Llm:Provider"] = "OpenAICompatible",
        ["Llm:Endpoint"] = fake.Endpoint.ToString(),
        ["Llm:ChatModel"] = fake.Model,
        ["Llm:ApiKey"] = "test-key",
        ["Llm:EmbeddingProvider"] = "Offline",
        // One quick attempt: these tests are about what the chat does once the provider has failed.
        ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
        ["Resilience:Llm:Retry:Delay"] = "00:00:00.010",
    };

    // A private server has its own users table: sign a user in against it directly.
    internal static async Task<(HttpClient Client, RegisteredUser User)> CreateUserOnAsync(ApiFactory f, Npgsql.NpgsqlDataSource dataSource)
    {
        var email = ApiFactory.NewEmail();
        const string password = "a-long-enough-password";
        await using (var org = dataSource.CreateCommand("INSERT INTO orgs (id, name) VALUES ($1, 'default') ON CONFLICT (name) DO NOTHING"))
        {
            org.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            await org.ExecuteNonQueryAsync();
        }
        await using (var insert = dataSource.CreateCommand("""
            INSERT INTO users (id, org_id, email, display_name, password_hash, role)
            SELECT $1, id, $2, 'Outage tester', $3, 'user' FROM orgs WHERE name = 'default'
            """))
        {
            insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new() { Value = email });
            insert.Parameters.Add(new() { Value = AspireAi.Core.Identity.AdminSeeder.HashPassword(password) });
            await insert.ExecuteNonQueryAsync();
        }
        var client = f.CreateClient();
        using var response = await client.PostAsJsonAsync("/v1/auth/token", new { email, password });
        response.EnsureSuccessStatusCode();
        var tokens = await response.Content.ReadFromJsonAsync<JsonElement>();
        client.DefaultRequestHeaders.Authorization = new("Bearer", tokens.GetProperty("accessToken").GetString());
        return (client, null!);
    }

    private static async Task<T> WaitForAsync<T>(Func<Task<T?>> probe) where T : struct
    {
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (DateTime.UtcNow < deadline)
        {
            if (await probe() is { } value)
            {
                return value;
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("The condition did not hold within 20 s.");
    }
}
