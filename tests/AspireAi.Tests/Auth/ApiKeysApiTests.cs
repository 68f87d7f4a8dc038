using System.Net;
using System.Net.Http.Json;
using System.Text.RegularExpressions;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Auth;

public sealed partial class ApiKeysApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [GeneratedRegex("^aai_[0-9A-Za-z]{8}_[0-9A-Za-z]{32}$")]
    private static partial Regex KeyFormat();

    [Fact]
    public async Task A_key_is_shown_once_authenticates_lists_without_its_secret_and_stops_working_when_revoked()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "  ci pipeline ", expiresInDays = 30, scopes = new[] { "chat" } });

        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        Assert.Contains("no-store", created.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        var body = await created.ReadJsonAsync();
        var id = body.GetProperty("id").GetGuid();
        var key = body.GetProperty("key").GetString()!;
        var prefix = body.GetProperty("prefix").GetString()!;
        Assert.Matches(KeyFormat(), key);
        Assert.Equal(key[4..12], prefix);
        Assert.Equal("ci pipeline", body.GetProperty("name").GetString());
        Assert.Equal($"/v1/api-keys/{id}", created.Headers.Location?.OriginalString);
        var expiresAt = body.GetProperty("expiresAt").GetDateTimeOffset();
        Assert.InRange(expiresAt - body.GetProperty("createdAt").GetDateTimeOffset(), TimeSpan.FromDays(30) - TimeSpan.FromSeconds(1), TimeSpan.FromDays(30) + TimeSpan.FromSeconds(1));

        // Only the hash is stored.
        Assert.Equal(id, await factory.ScalarAsync<Guid>("SELECT id FROM api_keys WHERE key_hash = $1", AuthTestExtensions.Sha256(key)));
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM api_keys WHERE key_hash = convert_to($1, 'UTF8') OR name = $1 OR prefix = $1", key));

        // The key alone authenticates (a client without the access token).
        using var keyClient = factory.CreateClient();
        using var list = await keyClient.GetWithBearerAsync("/v1/api-keys", key);
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        var listText = await list.Content.ReadAsStringAsync();
        Assert.DoesNotContain(key[13..], listText, StringComparison.Ordinal);
        var item = Assert.Single((await list.ReadJsonAsync()).GetProperty("items").EnumerateArray());
        Assert.Equal(["createdAt", "expiresAt", "id", "lastUsedAt", "name", "prefix", "scopes"], item.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(id, item.GetProperty("id").GetGuid());
        Assert.Equal(prefix, item.GetProperty("prefix").GetString());
        Assert.True(await factory.ScalarAsync<bool>("SELECT last_used_at IS NOT NULL FROM api_keys WHERE id = $1", id));

        using (var revoke = await client.DeleteAsync($"/v1/api-keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }
        using (var afterRevoke = await keyClient.GetWithBearerAsync("/v1/api-keys", key))
        {
            await afterRevoke.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using (var again = await client.DeleteAsync($"/v1/api-keys/{id}"))
        {
            await again.ReadProblemAsync(HttpStatusCode.NotFound);
        }
        using var remaining = await client.GetAsync("/v1/api-keys");
        Assert.Empty((await remaining.ReadJsonAsync()).GetProperty("items").EnumerateArray());
        Assert.True(await factory.ScalarAsync<bool>("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1", id));
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'api_key.created' AND actor_user_id = $1 AND target_id = $2", user.Id, id.ToString()));
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'api_key.revoked' AND actor_user_id = $1 AND target_id = $2", user.Id, id.ToString()));
    }

    [Fact]
    public async Task A_key_without_a_lifetime_never_expires_and_the_list_shows_only_the_callers_keys_newest_first()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var (other, _) = await factory.CreateUserClientAsync();
        using var theirs = await other.PostAsJsonAsync("/v1/api-keys", new { name = "theirs", scopes = new[] { "chat" } });
        using var older = await client.PostAsJsonAsync("/v1/api-keys", new { name = "older", scopes = new[] { "chat" } });
        using var newer = await client.PostAsJsonAsync("/v1/api-keys", new { name = "newer", scopes = new[] { "chat" } });

        Assert.Equal(System.Text.Json.JsonValueKind.Null, (await older.ReadJsonAsync()).GetProperty("expiresAt").ValueKind);
        using var list = await client.GetAsync("/v1/api-keys");
        var names = (await list.ReadJsonAsync()).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("name").GetString());
        Assert.Equal(["newer", "older"], names);
    }

    [Fact]
    public async Task Deleting_another_users_key_is_404_and_leaves_the_key_working()
    {
        var (owner, _) = await factory.CreateUserClientAsync();
        var (intruder, _) = await factory.CreateUserClientAsync();
        using var created = await owner.PostAsJsonAsync("/v1/api-keys", new { name = "mine", scopes = new[] { "chat" } });
        var body = await created.ReadJsonAsync();
        var id = body.GetProperty("id").GetGuid();

        using var response = await intruder.DeleteAsync($"/v1/api-keys/{id}");
        using var unknown = await intruder.DeleteAsync($"/v1/api-keys/{Guid.NewGuid()}");

        var problem = await response.ReadProblemAsync(HttpStatusCode.NotFound);
        var unknownProblem = await unknown.ReadProblemAsync(HttpStatusCode.NotFound);
        Assert.Equal(unknownProblem.GetProperty("title").GetString(), problem.GetProperty("title").GetString());
        Assert.False(await factory.ScalarAsync<bool>("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1", id));
        using var stillWorks = await factory.CreateClient().GetWithBearerAsync("/v1/api-keys", body.GetProperty("key").GetString()!);
        Assert.Equal(HttpStatusCode.OK, stillWorks.StatusCode);
    }

    [Fact]
    public async Task An_expired_key_and_a_key_of_a_disabled_user_are_refused()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using var expiring = await client.PostAsJsonAsync("/v1/api-keys", new { name = "expiring", expiresInDays = 1, scopes = new[] { "chat" } });
        var expiringBody = await expiring.ReadJsonAsync();
        using var lasting = await client.PostAsJsonAsync("/v1/api-keys", new { name = "lasting", scopes = new[] { "chat" } });
        var lastingKey = (await lasting.ReadJsonAsync()).GetProperty("key").GetString()!;
        using var used = await client.PostAsJsonAsync("/v1/api-keys", new { name = "used before", scopes = new[] { "chat" } });
        var usedKey = (await used.ReadJsonAsync()).GetProperty("key").GetString()!;
        await using (var expire = factory.DataSource.CreateCommand("UPDATE api_keys SET expires_at = now() - interval '1 second' WHERE id = $1"))
        {
            expire.Parameters.Add(new() { Value = expiringBody.GetProperty("id").GetGuid() });
            await expire.ExecuteNonQueryAsync();
        }
        using var anonymous = factory.CreateClient();

        using var expired = await anonymous.GetWithBearerAsync("/v1/api-keys", expiringBody.GetProperty("key").GetString()!);
        using var beforeDisable = await anonymous.GetWithBearerAsync("/v1/api-keys", usedKey);
        await using (var disable = factory.DataSource.CreateCommand("UPDATE users SET disabled_at = now() WHERE id = $1"))
        {
            disable.Parameters.Add(new() { Value = user.Id });
            await disable.ExecuteNonQueryAsync();
        }
        // A key not looked up since: a disable written straight into the database reaches a cached lookup only when it
        // expires (Auth:ApiKeyCacheDuration, docs/operations.md), the way it reaches an access token at its expiry.
        using var afterDisable = await anonymous.GetWithBearerAsync("/v1/api-keys", lastingKey);

        await expired.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(HttpStatusCode.OK, beforeDisable.StatusCode);
        await afterDisable.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task Last_used_is_recorded_at_most_once_a_minute()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "busy", scopes = new[] { "chat" } });
        var body = await created.ReadJsonAsync();
        var id = body.GetProperty("id").GetGuid();
        var key = body.GetProperty("key").GetString()!;
        using var keyClient = factory.CreateClient();

        async Task<DateTime> UseAfterSettingLastUsedAsync(string ago)
        {
            await using (var set = factory.DataSource.CreateCommand($"UPDATE api_keys SET last_used_at = now() - interval '{ago}' WHERE id = $1"))
            {
                set.Parameters.Add(new() { Value = id });
                await set.ExecuteNonQueryAsync();
            }
            using var response = await keyClient.GetWithBearerAsync("/v1/api-keys", key);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            return await factory.ScalarAsync<DateTime>("SELECT last_used_at FROM api_keys WHERE id = $1", id);
        }

        var recent = await UseAfterSettingLastUsedAsync("30 seconds");
        var stale = await UseAfterSettingLastUsedAsync("2 minutes");

        Assert.InRange(DateTime.UtcNow - recent, TimeSpan.FromSeconds(25), TimeSpan.FromSeconds(60));
        Assert.InRange(DateTime.UtcNow - stale, TimeSpan.Zero, TimeSpan.FromSeconds(20));
    }

    [Fact]
    public async Task Create_validation_errors_name_the_fields()
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var response = await client.PostAsJsonAsync("/v1/api-keys", new { name = " ", expiresInDays = 0 });

        Assert.Equal(["expiresInDays", "name", "scopes"], await response.ReadValidationErrorKeysAsync());
    }

    [Fact]
    public async Task The_key_endpoints_require_authentication()
    {
        using var client = factory.CreateClient();

        using var create = await client.PostAsJsonAsync("/v1/api-keys", new { name = "x", scopes = new[] { "chat" } });
        using var delete = await client.DeleteAsync($"/v1/api-keys/{Guid.NewGuid()}");

        await create.ReadProblemAsync(HttpStatusCode.Unauthorized);
        await delete.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }
}
