using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Chat;

public sealed class ConversationsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Create_get_rename_list_and_soft_delete_a_conversation()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var created = await client.PostAsJsonAsync("/v1/conversations", new { title = "Trip planning" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.Content.ReadFromJsonAsync<JsonElement>();
        var id = body.GetProperty("id").GetGuid();
        Assert.Equal($"/v1/conversations/{id}", created.Headers.Location?.OriginalString);
        Assert.Equal("Trip planning", body.GetProperty("title").GetString());
        Assert.Equal("default", body.GetProperty("agentId").GetString());

        using var renamed = await client.PatchAsJsonAsync($"/v1/conversations/{id}", new { title = "Trip to Lisbon" });
        Assert.Equal(HttpStatusCode.OK, renamed.StatusCode);
        var fetched = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}");
        Assert.Equal("Trip to Lisbon", fetched.GetProperty("title").GetString());

        var list = await client.GetFromJsonAsync<JsonElement>("/v1/conversations");
        Assert.Equal(id, Assert.Single(list.GetProperty("items").EnumerateArray()).GetProperty("id").GetGuid());

        using var deleted = await client.DeleteAsync($"/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        using var gone = await client.GetAsync($"/v1/conversations/{id}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal("application/problem+json", gone.Content.Headers.ContentType?.MediaType);
        // Soft delete: the row stays, marked deleted.
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM conversations WHERE id = $1 AND user_id = $2 AND deleted_at IS NOT NULL", id, user.Id));
    }

    [Fact]
    public async Task Another_users_conversation_is_not_found_through_any_endpoint()
    {
        var (owner, _) = await factory.CreateUserClientAsync();
        var (intruder, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(owner, "private");
        using (var send = await owner.SendAsync(ChatTestData.SendRequest(id, new { content = "hello" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, send.StatusCode);
        }
        var messageId = (await owner.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}/messages"))
            .GetProperty("items")[0].GetProperty("id").GetGuid();

        using var get = await intruder.GetAsync($"/v1/conversations/{id}");
        using var messages = await intruder.GetAsync($"/v1/conversations/{id}/messages");
        using var message = await intruder.GetAsync($"/v1/conversations/{id}/messages/{messageId}");
        using var rename = await intruder.PatchAsJsonAsync($"/v1/conversations/{id}", new { title = "mine now" });
        using var delete = await intruder.DeleteAsync($"/v1/conversations/{id}");
        using var send2 = await intruder.SendAsync(ChatTestData.SendRequest(id, new { content = "hi" }));

        Assert.All(new[] { get, messages, message, rename, delete, send2 }, r => Assert.Equal(HttpStatusCode.NotFound, r.StatusCode));
        var list = await intruder.GetFromJsonAsync<JsonElement>("/v1/conversations");
        Assert.Empty(list.GetProperty("items").EnumerateArray());
        // Nothing the intruder did changed the owner's data.
        Assert.Equal(2, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));
        Assert.Equal("private", (await owner.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}")).GetProperty("title").GetString());
    }

    [Fact]
    public async Task Unauthenticated_requests_get_401()
    {
        using var anonymous = factory.CreateClient();
        using var response = await anonymous.GetAsync("/v1/conversations");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Conversations_page_with_a_cursor_and_reject_a_bad_one()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await ChatTestData.CreateConversationAsync(client, $"c{i}"));
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations?limit=2{(cursor is null ? "" : $"&cursor={cursor}")}");
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(c => c.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(ids), seen);

        using var bad = await client.GetAsync("/v1/conversations?cursor=not-a-cursor");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.True(problem.GetProperty("errors").TryGetProperty("cursor", out _));
        using var badLimit = await client.GetAsync("/v1/conversations?limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, badLimit.StatusCode);
        Assert.True((await badLimit.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("limit", out _));
    }

    [Fact]
    public async Task Pagination_walks_ten_thousand_messages_exactly_once_in_order()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client, "long");
        await using (var fill = factory.DataSource.CreateCommand("""
            INSERT INTO messages (id, conversation_id, sequence, role, content, status)
            SELECT gen_random_uuid(), $1, s, CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END, 'message ' || s, 'complete'
            FROM generate_series(1, 10000) AS s
            """))
        {
            fill.Parameters.Add(new() { Value = id });
            await fill.ExecuteNonQueryAsync();
        }

        var sequences = new List<long>();
        string? cursor = null;
        var pages = 0;
        do
        {
            var page = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}/messages?limit=100{(cursor is null ? "" : $"&before={cursor}")}");
            sequences.AddRange(page.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("sequence").GetInt64()));
            cursor = page.GetProperty("nextCursor").GetString();
            pages++;
        }
        while (cursor is not null);

        Assert.Equal(100, pages);
        Assert.Equal(Enumerable.Range(1, 10000).Select(i => (long)(10001 - i)), sequences);

        using var bad = await client.GetAsync($"/v1/conversations/{id}/messages?before=%%%");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        Assert.True((await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("before", out _));
    }
}
