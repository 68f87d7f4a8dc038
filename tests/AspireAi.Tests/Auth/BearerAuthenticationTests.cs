using System.Net;
using System.Net.Http.Json;
using AspireAi.Core.Identity;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Auth;

public sealed class BearerAuthenticationTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string ProtectedPath = "/v1/api-keys";

    [Fact]
    public async Task An_anonymous_call_gets_401_ProblemDetails_with_a_Bearer_challenge()
    {
        using var client = factory.CreateClient();

        using var response = await client.GetAsync(ProtectedPath);

        var problem = await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Unauthorized", problem.GetProperty("title").GetString());
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Null(challenge.Parameter);
    }

    [Fact]
    public async Task Health_endpoints_stay_anonymous_and_endpoints_without_their_own_policy_are_closed()
    {
        using var client = factory.CreateClient();

        using var alive = await client.GetAsync("/alive");
        using var unmapped = await client.GetAsync("/v1/no-such-endpoint");

        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        await unmapped.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData(-60)]
    [InlineData(5)]
    public async Task Expired_and_not_yet_valid_access_tokens_are_refused(int issuedMinutesFromNow)
    {
        var (_, user) = await factory.CreateUserClientAsync();
        var token = TestTokens.Create(factory.SigningKey, user.ToCurrentUser(), issuedAt: DateTimeOffset.UtcNow.AddMinutes(issuedMinutesFromNow));
        using var client = factory.CreateClient();

        using var response = await client.GetWithBearerAsync(ProtectedPath, token);

        var problem = await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("The access token or API key is invalid, expired or revoked.", problem.GetProperty("detail").GetString());
        var challenge = Assert.Single(response.Headers.WwwAuthenticate);
        Assert.Equal("Bearer", challenge.Scheme);
        Assert.Equal("error=\"invalid_token\"", challenge.Parameter);
    }

    [Fact]
    public async Task A_token_with_a_tampered_payload_is_refused()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var promoted = TestTokens.ReplacePayload(user.AccessToken, json => json.Replace("\"role\":\"user\"", "\"role\":\"admin\"", StringComparison.Ordinal));
        Assert.NotEqual(user.AccessToken, promoted);

        using var admin = await client.GetWithBearerAsync("/v1/admin/users", promoted);
        using var own = await client.GetWithBearerAsync(ProtectedPath, promoted);

        await admin.ReadProblemAsync(HttpStatusCode.Unauthorized);
        await own.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("""{"alg":"none","typ":"JWT"}""")]
    [InlineData("""{"alg":"none"}""")]
    [InlineData("""{"alg":"HS256","typ":"JWT"}""")]
    public async Task Unsigned_tokens_are_refused(string header)
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var response = await client.GetWithBearerAsync(ProtectedPath, TestTokens.Unsigned(user.AccessToken, header));

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task A_token_signed_with_another_key_or_for_another_issuer_or_audience_is_refused()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var current = user.ToCurrentUser();
        var otherKey = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        string[] refused =
        [
            TestTokens.Create(otherKey, current),
            TestTokens.Create(factory.SigningKey, current, issuer: "someone-else"),
            TestTokens.Create(factory.SigningKey, current, audience: "another-api"),
        ];

        foreach (var token in refused)
        {
            using var response = await client.GetWithBearerAsync(ProtectedPath, token);
            await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }
        using var genuine = await client.GetWithBearerAsync(ProtectedPath, TestTokens.Create(factory.SigningKey, current));
        Assert.Equal(HttpStatusCode.OK, genuine.StatusCode);
    }

    [Fact]
    public async Task A_signed_token_without_a_session_or_with_an_unknown_role_is_refused()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var sessionless = await client.GetWithBearerAsync(ProtectedPath, TestTokens.Create(factory.SigningKey, user.ToCurrentUser(), withSession: false));
        using var root = await client.GetWithBearerAsync(ProtectedPath, TestTokens.Create(factory.SigningKey, user.ToCurrentUser(), role: "root"));

        await sessionless.ReadProblemAsync(HttpStatusCode.Unauthorized);
        await root.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Theory]
    [InlineData("garbage")]
    [InlineData("a.b.c")]
    [InlineData("aai_notakey")]
    public async Task Malformed_credentials_are_refused(string credential)
    {
        using var client = factory.CreateClient();

        using var response = await client.GetWithBearerAsync(ProtectedPath, credential);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("error=\"invalid_token\"", Assert.Single(response.Headers.WwwAuthenticate).Parameter);
    }

    [Fact]
    public async Task The_admin_policy_forbids_a_normal_user_with_403_ProblemDetails()
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var response = await client.GetAsync("/v1/admin/users");

        var problem = await response.ReadProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal("Forbidden", problem.GetProperty("title").GetString());
        Assert.Equal("You do not have permission to perform this action.", problem.GetProperty("detail").GetString());
    }

    [Fact]
    public async Task An_admin_lists_the_org_users_page_by_page_in_id_order()
    {
        var (admin, adminUser) = await factory.CreateAdminClientAsync();
        var (_, first) = await factory.CreateUserClientAsync();
        var (_, second) = await factory.CreateUserClientAsync();

        // Other tests add users concurrently: walk from just before our admin until both of ours are seen.
        var seen = new List<(Guid Id, string Email, string Role)>();
        Guid? cursor = await factory.ScalarAsync<Guid?>(
            "SELECT id FROM users WHERE org_id = $1 AND id < $2 ORDER BY id DESC LIMIT 1", adminUser.OrgId, adminUser.Id);
        for (var pages = 0; pages < 50 && !(seen.Any(u => u.Id == first.Id) && seen.Any(u => u.Id == second.Id)); pages++)
        {
            var query = cursor is { } c ? $"/v1/admin/users?limit=2&after={c}" : "/v1/admin/users?limit=2";
            using var response = await admin.GetAsync(query);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            var page = await response.ReadJsonAsync();
            var items = page.GetProperty("items").EnumerateArray().ToList();
            Assert.InRange(items.Count, 1, 2);
            Assert.All(items, item =>
            {
                Assert.Equal(adminUser.OrgId, item.GetProperty("orgId").GetGuid());
                Assert.False(item.TryGetProperty("passwordHash", out _));
            });
            seen.AddRange(items.Select(i => (i.GetProperty("id").GetGuid(), i.GetProperty("email").GetString()!, i.GetProperty("role").GetString()!)));
            var next = page.GetProperty("nextCursor");
            if (next.ValueKind == System.Text.Json.JsonValueKind.Null)
            {
                break;
            }
            Assert.Equal(items[^1].GetProperty("id").GetGuid(), next.GetGuid());
            cursor = next.GetGuid();
        }

        Assert.Equal(adminUser.Id, seen[0].Id);
        Assert.Equal((adminUser.Email, "admin"), (seen[0].Email, seen[0].Role));
        Assert.Contains(seen, u => u.Id == first.Id && u.Role == "user");
        Assert.Contains(seen, u => u.Id == second.Id);
        Assert.Equal(seen.Count, seen.DistinctBy(u => u.Id).Count());
        var ids = seen.Select(u => u.Id).ToList();
        var ordered = await OrderedByPostgresAsync(ids);
        Assert.Equal(ordered, ids);
    }

    [Fact]
    public async Task The_admin_list_validates_its_page_size()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();

        using var response = await admin.GetAsync("/v1/admin/users?limit=1000");

        Assert.Equal(["limit"], await response.ReadValidationErrorKeysAsync());
    }

    [Fact]
    public async Task An_admins_API_key_with_the_admin_scope_passes_the_admin_policy_like_the_admins_access_token()
    {
        var (client, user) = await factory.CreateAdminClientAsync();
        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "claims", scopes = new[] { "admin" } });
        var key = (await created.ReadJsonAsync()).GetProperty("key").GetString()!;

        // The admin policy reads the role claim: an admin's API key passes it just as the admin's token does.
        using var viaKey = await client.GetWithBearerAsync("/v1/admin/users?limit=1", key);
        using var viaToken = await client.GetWithBearerAsync("/v1/admin/users?limit=1", user.AccessToken);

        Assert.Equal(HttpStatusCode.OK, viaKey.StatusCode);
        Assert.Equal(HttpStatusCode.OK, viaToken.StatusCode);
    }

    private async Task<List<Guid>> OrderedByPostgresAsync(List<Guid> ids)
    {
        await using var command = factory.DataSource.CreateCommand("SELECT id FROM unnest($1::uuid[]) AS t(id) ORDER BY id");
        command.Parameters.Add(new() { Value = ids.ToArray() });
        var ordered = new List<Guid>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            ordered.Add(reader.GetGuid(0));
        }
        return ordered;
    }
}
