using System.Net;
using System.Net.Http.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Redis;
using Microsoft.Extensions.DependencyInjection;
using StackExchange.Redis;

namespace AspireAi.Tests.Caching;

/// <summary>
/// API-key lookups kept in Redis: served without Postgres, dropped for every instance the moment a key is revoked,
/// and never in the way when Redis is gone.
/// </summary>
public sealed class ApiKeyCacheTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_lookup_is_served_from_redis_and_a_key_revoked_on_one_instance_is_refused_at_once_on_another()
    {
        // Two Api instances over the same Postgres and Redis.
        await using var other = factory.WithSettings(new Dictionary<string, string?>());
        var (client, user) = await factory.CreateUserClientAsync();
        var (id, key) = await CreateKeyAsync(client);
        using var onOther = other.CreateClient();
        var redis = other.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var redisKey = "cache:apikey:" + Convert.ToHexStringLower(AuthTestExtensions.Sha256(key));

        using (var first = await onOther.GetWithBearerAsync("/v1/api-keys", key))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }
        Assert.True(await redis.KeyExistsAsync(redisKey));
        // Disabled straight in the database: a lookup that reached Postgres would refuse the key, the cached one does not.
        await SetDisabledAsync(user.Id, disabled: true);
        using (var cached = await client.GetWithBearerAsync("/v1/api-keys", key))
        {
            Assert.Equal(HttpStatusCode.OK, cached.StatusCode);
        }
        await SetDisabledAsync(user.Id, disabled: false);

        using (var revoke = await client.DeleteAsync($"/v1/api-keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }
        using var afterRevoke = await onOther.GetWithBearerAsync("/v1/api-keys", key);

        await afterRevoke.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.False(await redis.KeyExistsAsync(redisKey));
        // A refused key is not cached: nothing to flood Redis with.
        using var unknown = await onOther.GetWithBearerAsync("/v1/api-keys", $"aai_{new string('A', 8)}_{new string('b', 32)}");
        await unknown.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.False(await redis.KeyExistsAsync("cache:apikey:" + Convert.ToHexStringLower(AuthTestExtensions.Sha256($"aai_{new string('A', 8)}_{new string('b', 32)}"))));
    }

    [Fact]
    public async Task An_expired_cached_key_is_refused_without_waiting_for_its_entry_to_go()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var (id, key) = await CreateKeyAsync(client);
        using var keyClient = factory.CreateClient();
        using (var first = await keyClient.GetWithBearerAsync("/v1/api-keys", key))
        {
            Assert.Equal(HttpStatusCode.OK, first.StatusCode);
        }

        // The cached entry carries the expiry it was read with; here it is moved into the past through a fresh entry.
        await using (var expire = factory.DataSource.CreateCommand("UPDATE api_keys SET expires_at = now() + interval '1 second' WHERE id = $1"))
        {
            expire.Parameters.Add(new() { Value = id });
            await expire.ExecuteNonQueryAsync();
        }
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        await redis.KeyDeleteAsync("cache:apikey:" + Convert.ToHexStringLower(AuthTestExtensions.Sha256(key)));
        using (var refreshed = await keyClient.GetWithBearerAsync("/v1/api-keys", key))
        {
            Assert.Equal(HttpStatusCode.OK, refreshed.StatusCode);
        }
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        using var expired = await keyClient.GetWithBearerAsync("/v1/api-keys", key);

        await expired.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.True(await redis.KeyExistsAsync("cache:apikey:" + Convert.ToHexStringLower(AuthTestExtensions.Sha256(key))));
    }

    [Fact]
    public async Task With_redis_killed_keys_still_authenticate_from_postgres_and_a_revocation_still_holds()
    {
        await using var redisServer = await TestServers.StartPrivateRedisAsync();
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["ConnectionStrings:redis"] = redisServer.ConnectionString });
        var (client, _) = await api.CreateUserClientAsync();
        var (id, key) = await CreateKeyAsync(client);
        using var keyClient = api.CreateClient();
        using (var cachedBefore = await keyClient.GetWithBearerAsync("/v1/api-keys", key))
        {
            Assert.Equal(HttpStatusCode.OK, cachedBefore.StatusCode);
        }

        await redisServer.KillAsync();
        var during = new List<HttpStatusCode>();
        for (var i = 0; i < 3; i++)
        {
            using var response = await keyClient.GetWithBearerAsync("/v1/api-keys", key);
            during.Add(response.StatusCode);
        }
        using (var revoke = await client.DeleteAsync($"/v1/api-keys/{id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, revoke.StatusCode);
        }
        using var afterRevoke = await keyClient.GetWithBearerAsync("/v1/api-keys", key);

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK], during);
        await afterRevoke.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.True(await api.ScalarAsync<bool>("SELECT revoked_at IS NOT NULL FROM api_keys WHERE id = $1", id));
    }

    private static async Task<(Guid Id, string Key)> CreateKeyAsync(HttpClient client)
    {
        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "cached", scopes = new[] { "chat" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var body = await created.ReadJsonAsync();
        return (body.GetProperty("id").GetGuid(), body.GetProperty("key").GetString()!);
    }

    private async Task SetDisabledAsync(Guid userId, bool disabled)
    {
        await using var command = factory.DataSource.CreateCommand(
            disabled ? "UPDATE users SET disabled_at = now() WHERE id = $1" : "UPDATE users SET disabled_at = NULL WHERE id = $1");
        command.Parameters.Add(new() { Value = userId });
        await command.ExecuteNonQueryAsync();
    }
}
