using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Idempotency;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using AspireAi.Tests.Memory;

namespace AspireAi.Tests.Idempotency;

/// <summary>Idempotency-Key on POSTs, through the Api, with the rows left in Postgres.</summary>
public sealed class IdempotencyKeyTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task The_same_key_and_request_replays_the_stored_response_byte_for_byte_and_creates_nothing_more()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var key = Guid.NewGuid().ToString();

        using var first = await client.SendAsync(Post("/v1/conversations", new { title = "Idempotent" }, key));
        using var second = await client.SendAsync(Post("/v1/conversations", new { title = "Idempotent" }, key));

        Assert.Equal((HttpStatusCode.Created, HttpStatusCode.Created), (first.StatusCode, second.StatusCode));
        Assert.False(first.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal("true", Header(second, "Idempotent-Replayed"));
        Assert.Equal(await first.Content.ReadAsByteArrayAsync(), await second.Content.ReadAsByteArrayAsync());
        Assert.Equal(first.Headers.Location, second.Headers.Location);
        Assert.Equal(first.Content.Headers.ContentType, second.Content.Headers.ContentType);
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM conversations WHERE user_id = $1 AND title = 'Idempotent'", user.Id));

        await using var row = factory.DataSource.CreateCommand(
            "SELECT status, response_status, expires_at - now() FROM idempotency_keys WHERE user_id = $1 AND key = $2");
        row.Parameters.Add(new() { Value = user.Id });
        row.Parameters.Add(new() { Value = key });
        await using var reader = await row.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("completed", 201), (reader.GetString(0), reader.GetInt32(1)));
        Assert.InRange(reader.GetFieldValue<TimeSpan>(2), TimeSpan.FromHours(23.9), TimeSpan.FromHours(24));
    }

    [Fact]
    public async Task The_same_key_with_another_request_is_a_422_and_other_users_keys_are_their_own()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var (otherClient, other) = await factory.CreateUserClientAsync();
        var key = Guid.NewGuid().ToString();

        using var first = await client.SendAsync(Post("/v1/conversations", new { title = "First" }, key));
        using var different = await client.SendAsync(Post("/v1/conversations", new { title = "Second" }, key));
        using var otherUser = await otherClient.SendAsync(Post("/v1/conversations", new { title = "Second" }, key));

        Assert.Equal(HttpStatusCode.Created, first.StatusCode);
        Assert.Equal(HttpStatusCode.UnprocessableEntity, different.StatusCode);
        Assert.Equal("application/problem+json", different.Content.Headers.ContentType?.MediaType);
        Assert.Equal("Idempotency-Key reused", (await different.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM conversations WHERE user_id = $1 AND title = 'Second'", user.Id));
        // Keys are per user: another user's request with the same key is its own.
        Assert.Equal(HttpStatusCode.Created, otherUser.StatusCode);
        Assert.False(otherUser.Headers.Contains("Idempotent-Replayed"));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM conversations WHERE user_id = $1 AND title = 'Second'", other.Id));
    }

    [Fact]
    public async Task An_invalid_key_is_a_400_and_a_post_without_a_key_runs_every_time()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var tooLong = await client.SendAsync(Post("/v1/conversations", new { title = "Bad key" }, new string('k', 256)));
        using var spaces = await client.SendAsync(Post("/v1/conversations", new { title = "Bad key" }, "has spaces"));
        using var a = await client.SendAsync(Post("/v1/conversations", new { title = "No key" }, key: null));
        using var b = await client.SendAsync(Post("/v1/conversations", new { title = "No key" }, key: null));

        Assert.Equal((HttpStatusCode.BadRequest, HttpStatusCode.BadRequest), (tooLong.StatusCode, spaces.StatusCode));
        Assert.Equal("Invalid Idempotency-Key", (await tooLong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM conversations WHERE user_id = $1 AND title = 'Bad key'", user.Id));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM conversations WHERE user_id = $1 AND title = 'No key'", user.Id));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM idempotency_keys WHERE user_id = $1", user.Id));
    }

    [Fact]
    public async Task A_replayed_chat_message_calls_the_provider_once_charges_once_and_a_stream_gets_the_stored_events()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, user) = await api.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        var jsonKey = Guid.NewGuid().ToString();
        using var json = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Hello once" }, stream: false), jsonKey));
        var callsAfterFirst = fake.ChatRequests.Count;
        using var jsonAgain = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Hello once" }, stream: false), jsonKey));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (json.StatusCode, jsonAgain.StatusCode));
        Assert.Equal(await json.Content.ReadAsByteArrayAsync(), await jsonAgain.Content.ReadAsByteArrayAsync());
        Assert.Equal("true", Header(jsonAgain, "Idempotent-Replayed"));

        var streamKey = Guid.NewGuid().ToString();
        using var stream = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Hello stream" }), streamKey));
        var streamed = await stream.Content.ReadAsByteArrayAsync();
        using var streamAgain = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Hello stream" }), streamKey));

        Assert.Equal("text/event-stream", streamAgain.Content.Headers.ContentType?.MediaType);
        Assert.Equal(streamed, await streamAgain.Content.ReadAsByteArrayAsync());
        var events = System.Text.Encoding.UTF8.GetString(streamed);
        Assert.Contains("event: delta", events, StringComparison.Ordinal);
        Assert.Contains("event: done", events, StringComparison.Ordinal);

        // The JSON answer asked again as a stream is another request: the key says so instead of guessing.
        using var formatChanged = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Hello once" }), jsonKey));
        Assert.Equal(HttpStatusCode.UnprocessableEntity, formatChanged.StatusCode);

        Assert.Equal(callsAfterFirst + 1, fake.ChatRequests.Count);
        Assert.Equal(4, await CountAsync("SELECT count(*) FROM messages WHERE conversation_id = $1", id));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM usage_ledger WHERE conversation_id = $1", id));
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM idempotency_keys WHERE user_id = $1 AND status = 'completed'", user.Id));
    }

    [Fact]
    public async Task A_retry_while_the_first_request_runs_is_a_409_with_retry_after_and_afterwards_gets_the_stored_answer()
    {
        await using var slow = factory.WithSettings(new Dictionary<string, string?> { ["Llm:Offline:TokenDelayMs"] = "30" });
        var (client, _) = await slow.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        var key = Guid.NewGuid().ToString();

        using var first = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Tell me a long story about the sea." }), key),
            HttpCompletionOption.ResponseHeadersRead);
        using var during = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Tell me a long story about the sea." }), key));

        Assert.Equal(HttpStatusCode.Conflict, during.StatusCode);
        Assert.InRange(during.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(5));
        Assert.Equal("Request in progress", (await during.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());

        var streamed = await first.Content.ReadAsByteArrayAsync();
        using var after = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "Tell me a long story about the sea." }), key));
        Assert.Equal(HttpStatusCode.OK, after.StatusCode);
        Assert.Equal(streamed, await after.Content.ReadAsByteArrayAsync());
        Assert.Equal(2, await CountAsync("SELECT count(*) FROM messages WHERE conversation_id = $1", id));
    }

    [Fact]
    public async Task A_request_that_is_refused_for_a_transient_reason_releases_its_key()
    {
        await using var limited = factory.WithSettings(new Dictionary<string, string?>
        {
            ["RateLimits:Plans:standard:Chat:Capacity"] = "1",
            ["RateLimits:Plans:standard:Chat:PerMinute"] = "1",
            ["Chat:DailyTokenBudget"] = "1",
        });
        var (client, user) = await limited.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        await using (var spend = factory.DataSource.CreateCommand("""
            INSERT INTO usage_ledger (user_id, org_id, operation, model, input_tokens, output_tokens, cost) VALUES ($1, $2, 'chat', 'm', 5, 5, 0)
            """))
        {
            spend.Parameters.Add(new() { Value = user.Id });
            spend.Parameters.Add(new() { Value = user.OrgId });
            await spend.ExecuteNonQueryAsync();
        }

        using var overBudget = await client.SendAsync(WithKey(ChatTestData.SendRequest(id, new { content = "hi" }, stream: false), "budget-key"));

        Assert.Equal(HttpStatusCode.TooManyRequests, overBudget.StatusCode);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM idempotency_keys WHERE user_id = $1", user.Id));
    }

    [Fact]
    public async Task The_sweep_deletes_keys_past_their_retention_and_keeps_the_others()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        foreach (var (key, expiresIn) in new[] { ("expired", TimeSpan.FromMinutes(-1)), ("live", TimeSpan.FromHours(1)) })
        {
            await using var insert = factory.DataSource.CreateCommand("""
                INSERT INTO idempotency_keys (user_id, key, request_hash, locked_until, expires_at) VALUES ($1, $2, '\x00', now(), now() + $3)
                """);
            insert.Parameters.Add(new() { Value = user.Id });
            insert.Parameters.Add(new() { Value = key });
            insert.Parameters.Add(new() { Value = expiresIn });
            await insert.ExecuteNonQueryAsync();
        }

        await MemoryTestData.RunJobAsync<IdempotencySweepJob>(factory.Services, factory.DataSource, JsonElement.Parse("{}"));

        await using var keys = factory.DataSource.CreateCommand("SELECT key FROM idempotency_keys WHERE user_id = $1");
        keys.Parameters.Add(new() { Value = user.Id });
        Assert.Equal("live", await keys.ExecuteScalarAsync());
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM idempotency_keys WHERE user_id = $1", user.Id));
    }

    private static HttpRequestMessage Post(string path, object body, string? key)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, path) { Content = JsonContent.Create(body) };
        return key is null ? request : WithKey(request, key);
    }

    private static HttpRequestMessage WithKey(HttpRequestMessage request, string key)
    {
        request.Headers.TryAddWithoutValidation("Idempotency-Key", key);
        return request;
    }

    private static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"No {name} header.");

    private Task<long> CountAsync(string sql, params object[] parameters) => ChatTestData.CountAsync(factory.DataSource, sql, parameters);
}
