using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Security;

/// <summary>
/// Least privilege for API keys: each endpoint group needs its scope, a key without it gets a 403 that names the
/// scope and the request leaves nothing behind; sessions are not scoped; a key never mints a stronger key.
/// </summary>
public sealed class ApiKeyScopeTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_key_without_the_write_scope_is_refused_with_403_naming_it_and_nothing_is_written()
    {
        var (session, user) = await factory.CreateUserClientAsync();
        var reader = await CreateKeyAsync(session, "memories:read", "documents:read");
        using var client = factory.CreateClient();

        using var remember = await Send(client, HttpMethod.Post, "/v1/memories", reader, new { text = "Lives in Porto", infer = false });
        using var upload = await Send(client, HttpMethod.Post, "/v1/documents", reader, new { title = "Notes", text = "Some notes." });
        using var chat = await Send(client, HttpMethod.Post, "/v1/conversations", reader, new { title = "Hi" });
        using var list = await Send(client, HttpMethod.Get, "/v1/memories", reader);
        using var search = await Send(client, HttpMethod.Post, "/v1/documents/search", reader, new { query = "notes" });

        Assert.Equal("memories:write", (await remember.ReadProblemAsync(HttpStatusCode.Forbidden)).GetProperty("requiredScope").GetString());
        Assert.Equal("documents:write", (await upload.ReadProblemAsync(HttpStatusCode.Forbidden)).GetProperty("requiredScope").GetString());
        var chatProblem = await chat.ReadProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal("The API key lacks a scope.", chatProblem.GetProperty("title").GetString());
        Assert.Equal("chat", chatProblem.GetProperty("requiredScope").GetString());
        // Reads, and a search sent as POST, need only the read scope.
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        foreach (var sql in new[]
        {
            "SELECT count(*) FROM memories WHERE user_id = $1",
            "SELECT count(*) FROM documents WHERE owner_user_id = $1",
            "SELECT count(*) FROM conversations WHERE user_id = $1",
        })
        {
            Assert.Equal(0L, await factory.ScalarAsync<long>(sql, user.Id));
        }
    }

    [Fact]
    public async Task A_write_only_key_cannot_read_and_a_key_with_the_scope_works_and_records_its_use()
    {
        var (session, user) = await factory.CreateUserClientAsync();
        var writer = await CreateKeyAsync(session, "memories:write");
        using var client = factory.CreateClient();

        using var read = await Send(client, HttpMethod.Get, "/v1/memories", writer);
        using var remember = await Send(client, HttpMethod.Post, "/v1/memories", writer, new { text = "Lives in Porto", infer = false });

        Assert.Equal("memories:read", (await read.ReadProblemAsync(HttpStatusCode.Forbidden)).GetProperty("requiredScope").GetString());
        Assert.True(remember.IsSuccessStatusCode, await remember.Content.ReadAsStringAsync());
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM memories WHERE user_id = $1", user.Id));
        Assert.Equal(new[] { "memories:write" }, await factory.ScalarAsync<string[]>(
            "SELECT scopes FROM api_keys WHERE user_id = $1", user.Id));
        Assert.True(await factory.ScalarAsync<bool>("SELECT last_used_at IS NOT NULL FROM api_keys WHERE user_id = $1", user.Id));
        // The session itself is not scoped.
        using var sessionRead = await session.GetAsync("/v1/memories");
        Assert.Equal(HttpStatusCode.OK, sessionRead.StatusCode);
    }

    [Fact]
    public async Task Admin_endpoints_need_the_admin_scope_which_only_an_administrator_can_give()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var (userSession, user) = await factory.CreateUserClientAsync();
        var adminChatKey = await CreateKeyAsync(admin, "chat");
        using var client = factory.CreateClient();

        using var refused = await Send(client, HttpMethod.Get, "/v1/admin/users?limit=1", adminChatKey);
        using var userAdminKey = await userSession.PostAsJsonAsync("/v1/api-keys", new { name = "escalate", scopes = new[] { "admin" } });
        using var unknown = await userSession.PostAsJsonAsync("/v1/api-keys", new { name = "typo", scopes = new[] { "memories:delete" } });
        using var empty = await userSession.PostAsJsonAsync("/v1/api-keys", new { name = "none", scopes = Array.Empty<string>() });

        Assert.Equal("admin", (await refused.ReadProblemAsync(HttpStatusCode.Forbidden)).GetProperty("requiredScope").GetString());
        Assert.Equal("Only administrators can create admin keys.", (await userAdminKey.ReadProblemAsync(HttpStatusCode.Forbidden)).GetProperty("title").GetString());
        Assert.Equal(["scopes"], await unknown.ReadValidationErrorKeysAsync());
        Assert.Equal(["scopes"], await empty.ReadValidationErrorKeysAsync());
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM api_keys WHERE user_id = $1", user.Id));
    }

    [Fact]
    public async Task A_key_can_create_keys_only_within_its_own_scopes()
    {
        var (session, user) = await factory.CreateUserClientAsync();
        var chatKey = await CreateKeyAsync(session, "chat", "memories:read");
        using var client = factory.CreateClient();

        using var wider = await Send(client, HttpMethod.Post, "/v1/api-keys", chatKey, new { name = "wider", scopes = new[] { "chat", "memories:write" } });
        using var narrower = await Send(client, HttpMethod.Post, "/v1/api-keys", chatKey, new { name = "narrower", scopes = new[] { "chat" } });

        var problem = await wider.ReadProblemAsync(HttpStatusCode.Forbidden);
        Assert.Contains("'memories:write'", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Equal(HttpStatusCode.Created, narrower.StatusCode);
        Assert.Equal(2L, await factory.ScalarAsync<long>("SELECT count(*) FROM api_keys WHERE user_id = $1", user.Id));
    }

    private static async Task<string> CreateKeyAsync(HttpClient session, params string[] scopes)
    {
        using var created = await session.PostAsJsonAsync("/v1/api-keys", new { name = "scoped", scopes });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.ReadJsonAsync();
        Assert.Equal(scopes, body.GetProperty("scopes").EnumerateArray().Select(s => s.GetString()));
        return body.GetProperty("key").GetString()!;
    }

    private static Task<HttpResponseMessage> Send(HttpClient client, HttpMethod method, string path, string key, object? body = null)
    {
        var request = new HttpRequestMessage(method, path).WithBearer(key);
        if (body is not null)
        {
            request.Content = JsonContent.Create(body);
        }

        return client.SendAsync(request);
    }
}
