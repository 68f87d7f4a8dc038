using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Api.RateLimiting;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Tests.RateLimiting;

/// <summary>Shared token-bucket limits through the Api, against the real Redis.</summary>
public sealed class RateLimitApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static Dictionary<string, string?> ChatLimit(int capacity) => new()
    {
        ["RateLimits:Plans:standard:Chat:Capacity"] = capacity.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["RateLimits:Plans:standard:Chat:PerMinute"] = "1",
    };

    [Fact]
    public async Task Chat_sends_beyond_the_bucket_get_a_429_problem_with_retry_after_and_the_ietf_headers_and_nothing_is_written()
    {
        await using var limited = factory.WithSettings(ChatLimit(2));
        var (client, user) = await limited.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var first = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "message 1" }, stream: false));
        using var second = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "message 2" }, stream: false));
        using var refused = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "one too many" }, stream: false));

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (first.StatusCode, second.StatusCode));
        // The bucket holds 2 and refills one a minute: the window is 120 s.
        Assert.Equal("\"chat\";q=2;w=120", Header(first, "RateLimit-Policy"));
        Assert.Matches("^\"chat\";r=1;t=([1-9][0-9]?)$", Header(first, "RateLimit"));
        Assert.Matches("^\"chat\";r=0;t=", Header(second, "RateLimit"));

        Assert.Equal(HttpStatusCode.TooManyRequests, refused.StatusCode);
        Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        Assert.InRange(refused.Headers.RetryAfter!.Delta!.Value, TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(60));
        Assert.Equal("\"chat\";q=2;w=120", Header(refused, "RateLimit-Policy"));
        Assert.Matches("^\"chat\";r=0;t=[1-9][0-9]?$", Header(refused, "RateLimit"));
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Too many requests", problem.GetProperty("title").GetString());
        Assert.Equal("chat", problem.GetProperty("policy").GetString());
        Assert.Equal(4, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));

        // The bucket lives in Redis, shared by every Api instance, keyed by the user's id only.
        var redis = limited.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var key = TokenBuckets.Key(RateLimitClass.Chat, $"user:{user.Id}");
        // Empty, but for the refill (1 a minute) since the last request.
        Assert.InRange((double)await redis.HashGetAsync(key, "tokens"), 0, 0.1);
        Assert.InRange((await redis.KeyTimeToLiveAsync(key))!.Value, TimeSpan.FromSeconds(60), TimeSpan.FromSeconds(122));
    }

    [Fact]
    public async Task The_openai_compatible_endpoints_also_say_their_quota_in_openais_header_names()
    {
        await using var limited = factory.WithSettings(ChatLimit(2));
        var (client, _) = await limited.CreateUserClientAsync();

        using var first = await client.GetAsync("/v1/models");
        using var second = await client.GetAsync("/v1/models");
        using var refused = await client.GetAsync("/v1/models");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests), (first.StatusCode, second.StatusCode, refused.StatusCode));
        Assert.Equal(("2", "1"), (Header(first, "x-ratelimit-limit-requests"), Header(first, "x-ratelimit-remaining-requests")));
        Assert.Matches("^[1-9][0-9]*s$", Header(first, "x-ratelimit-reset-requests"));
        Assert.Equal("0", Header(refused, "x-ratelimit-remaining-requests"));
        Assert.Equal("\"chat\";q=2;w=120", Header(refused, "RateLimit-Policy"));
        // The native routes keep only the standard names.
        using var native = await client.GetAsync("/v1/conversations");
        Assert.False(native.Headers.Contains("x-ratelimit-limit-requests"));
    }

    [Fact]
    public async Task Two_api_instances_draw_from_one_bucket()
    {
        await using var one = factory.WithSettings(ChatLimit(3));
        await using var two = factory.WithSettings(ChatLimit(3));
        var (client, user) = await one.CreateUserClientAsync();
        using var other = two.CreateClient();
        other.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        var id = await ChatTestData.CreateConversationAsync(client);

        var statuses = new List<HttpStatusCode>();
        foreach (var target in new[] { client, other, client, other })
        {
            using var response = await target.SendAsync(ChatTestData.SendRequest(id, new { content = "hello" }, stream: false));
            statuses.Add(response.StatusCode);
        }

        Assert.Equal([HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.OK, HttpStatusCode.TooManyRequests], statuses);
    }

    [Fact]
    public async Task Anonymous_auth_requests_are_counted_per_client_address_and_other_routes_per_user()
    {
        await using var limited = factory.WithSettings(new Dictionary<string, string?>
        {
            ["RateLimits:Plans:standard:Auth:Capacity"] = "2",
            ["RateLimits:Plans:standard:Auth:PerMinute"] = "1",
        });
        var address = ApiFactory.NewClientAddress();
        using var client = limited.CreateClient(address);
        var body = new { email = ApiFactory.NewEmail(), password = "not-the-password" };

        using var a = await client.PostAsJsonAsync("/v1/auth/token", body);
        using var b = await client.PostAsJsonAsync("/v1/auth/token", body);
        using var c = await client.PostAsJsonAsync("/v1/auth/token", body);
        using var elsewhere = await limited.CreateClient(ApiFactory.NewClientAddress()).PostAsJsonAsync("/v1/auth/token", body);

        Assert.Equal([HttpStatusCode.Unauthorized, HttpStatusCode.Unauthorized, HttpStatusCode.TooManyRequests, HttpStatusCode.Unauthorized],
            [a.StatusCode, b.StatusCode, c.StatusCode, elsewhere.StatusCode]);
        Assert.Equal("\"auth\";q=2;w=120", Header(c, "RateLimit-Policy"));

        // A signed-in caller's reads are in the default bucket; the health endpoint is not limited at all.
        var (user, _) = await limited.CreateUserClientAsync();
        using var list = await user.GetAsync("/v1/conversations");
        Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        Assert.Matches("^\"default\";q=600;w=60$", Header(list, "RateLimit-Policy"));
        using var health = await user.GetAsync("/health");
        Assert.False(health.Headers.Contains("RateLimit-Policy"));
    }

    [Fact]
    public async Task Memory_reads_and_writes_are_in_different_buckets_and_an_api_key_has_its_own()
    {
        await using var limited = factory.WithSettings(new Dictionary<string, string?>
        {
            ["RateLimits:Plans:standard:MemoryWrites:Capacity"] = "1",
            ["RateLimits:Plans:standard:MemoryWrites:PerMinute"] = "1",
        });
        var (client, _) = await limited.CreateUserClientAsync();

        using var write = await client.PostAsJsonAsync("/v1/memories", new { text = "I live in Lisbon", infer = false });
        using var secondWrite = await client.PostAsJsonAsync("/v1/memories", new { text = "I like tea", infer = false });
        using var read = await client.GetAsync("/v1/memories");

        Assert.Equal(HttpStatusCode.Created, write.StatusCode);
        Assert.Equal("\"memory-writes\";q=1;w=60", Header(write, "RateLimit-Policy"));
        Assert.Equal(HttpStatusCode.TooManyRequests, secondWrite.StatusCode);
        Assert.Equal(HttpStatusCode.OK, read.StatusCode);
        Assert.StartsWith("\"default\";", Header(read, "RateLimit-Policy"), StringComparison.Ordinal);

        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "limits", scopes = new[] { "memories:read", "memories:write" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var keyClient = limited.CreateClient();
        keyClient.DefaultRequestHeaders.Authorization = new("Bearer", (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("key").GetString());
        using var byKey = await keyClient.PostAsJsonAsync("/v1/memories", new { text = "I like coffee", infer = false });
        Assert.Equal(HttpStatusCode.Created, byKey.StatusCode);
    }

    [Fact]
    public async Task An_organisation_on_another_plan_gets_that_plans_limits()
    {
        var (_, probe) = await factory.CreateUserClientAsync();
        await using var limited = factory.WithSettings(new Dictionary<string, string?>
        {
            [$"RateLimits:OrgPlans:{probe.OrgId}"] = "tiny",
            ["RateLimits:Plans:tiny:Default:Capacity"] = "1",
            ["RateLimits:Plans:tiny:Default:PerMinute"] = "1",
        });
        var (client, _) = await limited.CreateUserClientAsync();

        using var first = await client.GetAsync("/v1/conversations");
        using var second = await client.GetAsync("/v1/conversations");

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.TooManyRequests), (first.StatusCode, second.StatusCode));
        Assert.Equal("\"default\";q=1;w=60", Header(first, "RateLimit-Policy"));
        // The plan's other classes keep their defaults.
        var options = limited.Services.GetRequiredService<IOptions<RateLimitOptions>>().Value;
        Assert.Equal(30, options.Plans["tiny"].Chat.Capacity);
    }

    [Fact]
    public void Options_naming_an_undefined_plan_or_an_empty_bucket_fail_at_start()
    {
        using var bad = factory.WithSettings(new Dictionary<string, string?>
        {
            ["RateLimits:DefaultPlan"] = "gold",
            ["RateLimits:Plans:standard:Chat:PerMinute"] = "0",
        });

        var error = Assert.Throws<OptionsValidationException>(() => bad.CreateClient());
        Assert.Contains(error.Failures, f => f.Contains("The plan 'gold' is not defined under RateLimits:Plans.", StringComparison.Ordinal));
        Assert.Contains(error.Failures, f => f.Contains("Plan 'standard', Chat: the capacity and the refill per minute must be at least 1.", StringComparison.Ordinal));
    }

    internal static string Header(HttpResponseMessage response, string name) =>
        response.Headers.TryGetValues(name, out var values) ? string.Join(",", values) : throw new Xunit.Sdk.XunitException($"No {name} header.");
}
