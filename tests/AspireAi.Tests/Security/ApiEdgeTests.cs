using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Security;

/// <summary>What the Api believes about a caller's address, and what its health endpoints tell an outsider.</summary>
public sealed class ApiEdgeTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string ProxyKey = "test-proxy-key-0123456789abcdef";

    [Fact]
    public async Task X_Forwarded_For_from_a_local_caller_without_the_proxy_key_is_ignored()
    {
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["Proxy:Key"] = ProxyKey });
        var forged = ApiFactory.NewClientAddress();
        var claimed = ApiFactory.NewClientAddress();
        var (_, user) = await api.CreateUserClientAsync();

        // Any process on the host reaches the Api from loopback: that alone must not make its header believed.
        using var local = api.CreateClient(IPAddress.Loopback);
        local.DefaultRequestHeaders.Add("X-Forwarded-For", forged.ToString());
        using var wrongKey = api.CreateClient(IPAddress.Loopback);
        wrongKey.DefaultRequestHeaders.Add("X-Forwarded-For", forged.ToString());
        wrongKey.DefaultRequestHeaders.Add("X-AspireAi-Proxy-Key", "not-the-key-0123456789");
        // Web proves itself with the shared key; then the last address it names is the client.
        using var web = api.CreateClient(IPAddress.Loopback);
        web.DefaultRequestHeaders.Add("X-Forwarded-For", $"{forged}, {claimed}");
        web.DefaultRequestHeaders.Add("X-AspireAi-Proxy-Key", ProxyKey);

        foreach (var client in new[] { local, wrongKey, web })
        {
            using var response = await client.TokenAsync(user.Email, "wrong-password-123");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal(["127.0.0.1", "127.0.0.1", claimed.ToString()], await AuditedAddressesAsync(user.Id));
    }

    [Fact]
    public async Task A_configured_reverse_proxy_is_believed_and_nobody_else()
    {
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["Proxy:KnownProxies:0"] = "10.99.0.1" });
        var (_, user) = await api.CreateUserClientAsync();
        var claimed = ApiFactory.NewClientAddress();
        using var proxy = api.CreateClient(IPAddress.Parse("10.99.0.1"));
        proxy.DefaultRequestHeaders.Add("X-Forwarded-For", claimed.ToString());
        using var local = api.CreateClient(IPAddress.Loopback);
        local.DefaultRequestHeaders.Add("X-Forwarded-For", ApiFactory.NewClientAddress().ToString());

        foreach (var client in new[] { proxy, local })
        {
            using var response = await client.TokenAsync(user.Email, "wrong-password-123");
            Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
        }

        Assert.Equal([claimed.ToString(), "127.0.0.1"], await AuditedAddressesAsync(user.Id));
    }

    [Fact]
    public async Task Health_is_public_as_a_status_only_and_the_detailed_report_is_for_administrators()
    {
        var (userClient, _) = await factory.CreateUserClientAsync();
        var (adminClient, _) = await factory.CreateAdminClientAsync();
        using var anonymous = factory.CreateClient();

        using var health = await anonymous.GetAsync("/health");
        using var anonymousDetails = await anonymous.GetAsync("/health/details");
        using var userDetails = await userClient.GetAsync("/health/details");
        using var adminDetails = await adminClient.GetAsync("/health/details");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        var summary = await health.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["status"], summary.EnumerateObject().Select(p => p.Name));
        Assert.Equal(HttpStatusCode.Unauthorized, anonymousDetails.StatusCode);
        Assert.Equal(HttpStatusCode.Forbidden, userDetails.StatusCode);
        Assert.Equal(HttpStatusCode.OK, adminDetails.StatusCode);
        var report = await adminDetails.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Healthy", report.GetProperty("checks").GetProperty("self").GetProperty("status").GetString());
        Assert.True(report.GetProperty("checks").EnumerateObject().Count() > 1, report.GetRawText());
    }

    [Fact]
    public async Task Api_responses_carry_the_api_subset_of_the_browser_headers()
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var me = await client.GetAsync("/v1/auth/me");
        using var problem = await factory.CreateClient().GetAsync("/v1/auth/me");

        foreach (var response in new[] { me, problem })
        {
            Assert.Equal("default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'",
                response.Headers.GetValues("Content-Security-Policy").Single());
            Assert.Equal("nosniff", response.Headers.GetValues("X-Content-Type-Options").Single());
            Assert.Equal("no-referrer", response.Headers.GetValues("Referrer-Policy").Single());
            Assert.Equal("DENY", response.Headers.GetValues("X-Frame-Options").Single());
            Assert.False(response.Headers.Contains("Set-Cookie"));
        }
    }

    private async Task<string[]> AuditedAddressesAsync(Guid userId)
    {
        await using var command = factory.DataSource.CreateCommand(
            "SELECT details->>'ip' FROM audit_log WHERE action = 'auth.login_failed' AND target_id = $1 ORDER BY id");
        command.Parameters.Add(new() { Value = userId.ToString() });
        var addresses = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            addresses.Add(reader.GetString(0));
        }

        return [.. addresses];
    }
}
