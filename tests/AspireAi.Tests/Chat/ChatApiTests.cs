using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Chat;

public sealed class ChatApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Streaming_answers_follow_the_sse_contract_and_persist_the_exchange()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Tell me something about gardening." }),
            HttpCompletionOption.ResponseHeadersRead);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.True(response.Headers.Contains("X-Trace-Id"));
        var events = await SseReader.ReadAllAsync(response);

        var names = events.Select(e => e.Event).ToList();
        Assert.Equal("done", names[^1]);
        Assert.Equal("usage", names[^2]);
        Assert.All(names[..^2], n => Assert.Equal("delta", n));
        Assert.True(names.Count > 3, "the answer arrives in several deltas");
        var text = string.Concat(events.Where(e => e.Event == "delta").Select(e => e.Data.GetProperty("text").GetString()));
        var done = events[^1].Data;
        var usage = events[^2].Data;
        Assert.True(usage.GetProperty("inputTokens").GetInt32() > 0);
        Assert.True(usage.GetProperty("outputTokens").GetInt32() > 0);
        Assert.Equal(usage.GetProperty("outputTokens").GetInt32(), done.GetProperty("outputTokens").GetInt32());
        Assert.StartsWith("offline-", done.GetProperty("model").GetString(), StringComparison.Ordinal);
        Assert.Equal("chat.system", done.GetProperty("promptName").GetString());
        Assert.Equal(response.Headers.GetValues("X-Trace-Id").Single(), done.GetProperty("traceId").GetString());

        // The rows left behind: the user's message, the complete answer, and one ledger row with the same tokens.
        var rows = await ChatTestData.MessagesAsync(factory.DataSource, id);
        Assert.Equal(2, rows.Count);
        Assert.Equal(("user", "complete", "Tell me something about gardening.", 1L), rows[0]);
        Assert.Equal(("assistant", "complete", text, 2L), rows[1]);
        var messageId = done.GetProperty("messageId").GetGuid();
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM usage_ledger WHERE user_id = $1 AND message_id = $2 AND input_tokens = $3 AND output_tokens = $4 AND operation = 'chat'",
            user.Id, messageId, usage.GetProperty("inputTokens").GetInt32(), usage.GetProperty("outputTokens").GetInt32()));
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM messages WHERE id = $1 AND prompt_name = 'chat.system' AND prompt_version IS NOT NULL AND trace_id IS NOT NULL AND model LIKE 'offline-%'",
            messageId));
    }

    [Fact]
    public async Task Json_answers_carry_the_same_fields()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Hello there" }, stream: false));

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        foreach (var field in new[] { "messageId", "userMessageId", "content", "model", "promptName", "promptVersion", "inputTokens", "outputTokens", "cost", "traceId", "memoryIds", "citations", "toolCalls" })
        {
            Assert.True(reply.TryGetProperty(field, out _), $"missing {field}");
        }
        Assert.False(string.IsNullOrWhiteSpace(reply.GetProperty("content").GetString()));
        var history = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}/messages");
        Assert.Equal(reply.GetProperty("content").GetString(), history.GetProperty("items")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task History_is_sent_to_the_model_on_the_next_turn()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        using (var first = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "My favourite colour is teal." }, stream: false)))
        {
            first.EnsureSuccessStatusCode();
        }
        using var second = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "What did I just tell you?" }, stream: false));
        var reply = await second.Content.ReadFromJsonAsync<JsonElement>();

        // More input tokens on turn two than a lone question costs: the earlier exchange went along.
        var rows = await ChatTestData.MessagesAsync(factory.DataSource, id);
        Assert.Equal(4, rows.Count);
        Assert.Equal([1L, 2L, 3L, 4L], rows.Select(r => r.Sequence));
        Assert.True(reply.GetProperty("inputTokens").GetInt32() > 20);
    }

    [Theory]
    [InlineData("""{"content":""}""", "content")]
    [InlineData("""{"content":"   "}""", "content")]
    [InlineData("""{}""", "content")]
    public async Task Empty_content_is_a_400_naming_the_field_and_nothing_is_written(string json, string field)
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/conversations/{id}/messages")
        {
            Content = new StringContent(json, Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal([field], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name));
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));
    }

    [Fact]
    public async Task Oversized_content_is_a_400_with_the_limit()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = new string('x', 8_001) }));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("8000", problem.GetProperty("errors").GetProperty("content")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));
    }

    [Fact]
    public async Task Malformed_json_is_a_400_problem_and_nothing_is_written()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/conversations/{id}/messages")
        {
            Content = new StringContent("""{"content": "unterminated""", Encoding.UTF8, "application/json"),
        };
        using var response = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));
    }

    [Fact]
    public async Task Unknown_conversation_is_a_404()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var response = await client.SendAsync(ChatTestData.SendRequest(Guid.NewGuid(), new { content = "hello" }));
        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Over_budget_is_a_429_with_the_reset_time_and_nothing_is_written()
    {
        await using var limited = factory.WithSettings(new Dictionary<string, string?> { ["Chat:DailyTokenBudget"] = "50" });
        var (client, user) = await limited.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        await using (var spend = factory.DataSource.CreateCommand("""
            INSERT INTO usage_ledger (user_id, org_id, operation, model, input_tokens, output_tokens, cost)
            VALUES ($1, $2, 'chat', 'offline-chat-1', 40, 10, 0)
            """))
        {
            spend.Parameters.Add(new() { Value = user.Id });
            spend.Parameters.Add(new() { Value = user.OrgId });
            await spend.ExecuteNonQueryAsync();
        }

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "one more please" }));

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.True(response.Headers.RetryAfter?.Delta > TimeSpan.Zero);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var resetsAt = problem.GetProperty("resetsAt").GetDateTimeOffset();
        Assert.Equal(DateTimeOffset.UtcNow.Date.AddDays(1), resetsAt.UtcDateTime);
        Assert.Equal(50, problem.GetProperty("tokensUsed").GetInt64());
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));
    }

    [Fact]
    public async Task Asking_for_the_time_streams_a_tool_call_and_its_result()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "What time is it right now?" }),
            HttpCompletionOption.ResponseHeadersRead);
        var events = await SseReader.ReadAllAsync(response);

        var call = Assert.Single(events, e => e.Event == "tool_call").Data;
        Assert.Equal("current_time", call.GetProperty("name").GetString());
        var result = Assert.Single(events, e => e.Event == "tool_result").Data;
        Assert.Equal(call.GetProperty("id").GetString(), result.GetProperty("id").GetString());
        Assert.False(result.GetProperty("isError").GetBoolean());
        Assert.Contains(DateTimeOffset.UtcNow.ToString("yyyy-MM-dd", System.Globalization.CultureInfo.InvariantCulture), result.GetProperty("result").GetString(), StringComparison.Ordinal);
        Assert.True(events.IndexOf(events.Single(e => e.Event == "tool_call")) < events.IndexOf(events.Single(e => e.Event == "tool_result")));
        Assert.Equal("done", events[^1].Event);
    }
}
