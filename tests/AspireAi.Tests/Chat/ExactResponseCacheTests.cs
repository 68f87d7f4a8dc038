using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using AspireAi.Tests.Redis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AspireAi.Tests.Chat;

/// <summary>
/// The exact-response cache: a deterministic turn (temperature 0, no tool called) repeated by the same user is
/// answered without a provider call and still stored; another user, a sampled prompt or a tool call always reach the model.
/// </summary>
public sealed class ExactResponseCacheTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Question = "Name the three primary colours of light.";

    [Fact]
    public async Task A_repeated_deterministic_request_is_answered_from_the_cache_and_still_stored()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.DefaultChatReply = FakeOpenAiReply.Text("Red, green and blue.");
        await using var api = await StartAsync(fake, temperature: 0f, cacheOn: true);
        var (client, user) = await api.CreateUserClientAsync();

        var (firstId, first) = await SendInNewConversationAsync(client, Question);
        var (secondId, second) = await SendInNewConversationAsync(client, Question);

        Assert.Single(fake.ChatRequests);
        Assert.Equal("Red, green and blue.", first.GetProperty("content").GetString());
        Assert.Equal("Red, green and blue.", second.GetProperty("content").GetString());
        Assert.Equal(0, second.GetProperty("inputTokens").GetInt32());
        Assert.Equal(0m, second.GetProperty("cost").GetDecimal());
        // The cached turn is stored like any other: the question, then the answer, complete, marked as cached.
        var rows = await ChatTestData.MessagesAsync(factory.DataSource, secondId);
        Assert.Equal([("user", "complete", Question), ("assistant", "complete", "Red, green and blue.")], rows.Select(r => (r.Role, r.Status, r.Content)));
        Assert.True(await factory.ScalarAsync<bool>(
            "SELECT (metadata->>'cachedResponse')::boolean AND input_tokens IS NULL FROM messages WHERE conversation_id = $1 AND role = 'assistant'", secondId));
        Assert.False(await factory.ScalarAsync<bool>(
            "SELECT metadata ? 'cachedResponse' FROM messages WHERE conversation_id = $1 AND role = 'assistant'", firstId));
        // One ledger row: the one provider call.
        Assert.Equal(1L, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM usage_ledger WHERE user_id = $1", user.Id));
        await using var redis = await RedisTestClients.SharedAsync();
        Assert.Single(await RedisTestClients.KeysAsync(redis, $"cache:chat:response:{user.Id:N}:*"));
    }

    [Fact]
    public async Task Another_user_asking_the_same_is_never_served_the_first_users_answer()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.EnqueueChat(FakeOpenAiReply.Text("Answer for the first user."), FakeOpenAiReply.Text("Answer for the second user."));
        await using var api = await StartAsync(fake, temperature: 0f, cacheOn: true);
        var (alice, _) = await api.CreateUserClientAsync();
        var (bob, _) = await api.CreateUserClientAsync();

        var (_, forAlice) = await SendInNewConversationAsync(alice, Question);
        var (_, forBob) = await SendInNewConversationAsync(bob, Question);

        Assert.Equal(2, fake.ChatRequests.Count);
        Assert.Equal("Answer for the first user.", forAlice.GetProperty("content").GetString());
        Assert.Equal("Answer for the second user.", forBob.GetProperty("content").GetString());
    }

    [Fact]
    public async Task A_sampled_prompt_is_never_cached()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        await using var api = await StartAsync(fake, temperature: 0.7f, cacheOn: true);
        var (client, user) = await api.CreateUserClientAsync();

        await SendInNewConversationAsync(client, Question);
        await SendInNewConversationAsync(client, Question);

        Assert.Equal(2, fake.ChatRequests.Count);
        await using var redis = await RedisTestClients.SharedAsync();
        Assert.Empty(await RedisTestClients.KeysAsync(redis, $"cache:chat:response:{user.Id:N}:*"));
    }

    [Fact]
    public async Task An_answer_that_called_a_tool_is_never_cached()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        fake.EnqueueChat(
            FakeOpenAiReply.ToolCalls([new FakeToolCall("call_1", "current_time", "{}")]), FakeOpenAiReply.Text("It is noon."),
            FakeOpenAiReply.ToolCalls([new FakeToolCall("call_2", "current_time", "{}")]), FakeOpenAiReply.Text("It is a minute past noon."));
        await using var api = await StartAsync(fake, temperature: 0f, cacheOn: true);
        var (client, user) = await api.CreateUserClientAsync();

        var (_, first) = await SendInNewConversationAsync(client, "What time is it?");
        var (_, second) = await SendInNewConversationAsync(client, "What time is it?");

        Assert.Equal(4, fake.ChatRequests.Count);
        Assert.Equal("It is noon.", first.GetProperty("content").GetString());
        Assert.Equal("It is a minute past noon.", second.GetProperty("content").GetString());
        await using var redis = await RedisTestClients.SharedAsync();
        Assert.Empty(await RedisTestClients.KeysAsync(redis, $"cache:chat:response:{user.Id:N}:*"));
    }

    [Fact]
    public async Task The_cache_is_off_by_default()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        await using var api = await StartAsync(fake, temperature: 0f, cacheOn: false);
        var (client, user) = await api.CreateUserClientAsync();

        await SendInNewConversationAsync(client, Question);
        await SendInNewConversationAsync(client, Question);

        Assert.False(api.Services.GetRequiredService<IOptions<ChatSettings>>().Value.ExactResponseCache);
        Assert.Equal(2, fake.ChatRequests.Count);
        await using var redis = await RedisTestClients.SharedAsync();
        Assert.Empty(await RedisTestClients.KeysAsync(redis, $"cache:chat:response:{user.Id:N}:*"));
    }

    [Theory]
    [InlineData("00:00:00")]
    [InlineData("8.00:00:00")]
    public void A_cache_duration_out_of_range_fails_validation(string duration)
    {
        var services = new ServiceCollection();
        services.AddOptions<ChatSettings>().Configure(o => o.ExactResponseCacheDuration = TimeSpan.Parse(duration, System.Globalization.CultureInfo.InvariantCulture))
            .ValidateDataAnnotations();
        using var provider = services.BuildServiceProvider();

        var validation = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<ChatSettings>>().Value);
        Assert.Contains(nameof(ChatSettings.ExactResponseCacheDuration), validation.Message, StringComparison.Ordinal);
    }

    // An Api whose system prompt is a fresh one with the given temperature, so other tests' prompts are untouched.
    private async Task<ApiFactory> StartAsync(FakeOpenAiServer fake, float temperature, bool cacheOn)
    {
        var name = $"test.cache.{Guid.NewGuid():N}";
        const string template = "You are a terse assistant talking with {{user_name}}.";
        await using (var insert = factory.DataSource.CreateCommand("""
            INSERT INTO prompts (id, name, version, template, temperature, sha256, is_active) VALUES ($1, $2, 1, $3, $4, $5, true)
            """))
        {
            insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new() { Value = name });
            insert.Parameters.Add(new() { Value = template });
            insert.Parameters.Add(new() { Value = temperature });
            insert.Parameters.Add(new() { Value = PromptStore.HashOf(template) });
            await insert.ExecuteNonQueryAsync();
        }
        var settings = ChatFailureTests.OpenAiSettings(fake);
        settings["Chat:SystemPromptName"] = name;
        if (cacheOn)
        {
            settings["Chat:ExactResponseCache"] = "true";
        }
        return factory.WithSettings(settings);
    }

    private static async Task<(Guid ConversationId, JsonElement Reply)> SendInNewConversationAsync(HttpClient client, string content)
    {
        var id = await ChatTestData.CreateConversationAsync(client);
        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content }, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (id, await response.Content.ReadFromJsonAsync<JsonElement>());
    }
}
