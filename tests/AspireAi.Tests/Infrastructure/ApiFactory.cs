using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Api;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspireAi.Tests.Infrastructure;

/// <summary>A user created for one test, with the credentials and the tokens it signed in with.</summary>
public sealed record RegisteredUser(Guid Id, Guid OrgId, string Email, string Password, string DisplayName, string Role,
    string AccessToken, string RefreshToken)
{
    public CurrentUser ToCurrentUser() => new(Id, OrgId, Role, Email);
}

/// <summary>
/// The Api in memory (TestServer) on the shared real Postgres and Redis (<see cref="TestServers"/>), in the
/// Development environment with a random signing key. Use it as <c>IClassFixture&lt;ApiFactory&gt;</c>; each test
/// then creates its own users with <see cref="CreateUserClientAsync"/>, so tests never see each other's data.
/// </summary>
/// <remarks>
/// Every client gets its own made-up client address (the <see cref="ClientAddressHeader"/> header, honoured only by
/// this fixture), so per-address sign-in limits of one test never throttle another. For other settings or
/// services use <see cref="WithSettings"/> / <see cref="WithHost"/>: they return a new factory (dispose it) that
/// keeps the helpers, unlike <c>WithWebHostBuilder</c>. Embeddings come from the default offline embedder,
/// all-MiniLM-L6-v2, as in production (the model loads once per process); a test that needs the hashing double says
/// so with <c>Llm:Offline:Embedder=Hashing</c>.
/// </remarks>
public sealed class ApiFactory : WebApplicationFactory<ApiAssemblyMarker>, IAsyncLifetime
{
    /// <summary>Test-only header that sets the request's client address (<c>Connection.RemoteIpAddress</c>).</summary>
    public const string ClientAddressHeader = "X-Test-Client-Address";

    private readonly List<Action<IWebHostBuilder>> _configure;
    private TestServers? _servers;

    public ApiFactory() : this(null, Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)), []) { }

    private ApiFactory(TestServers? servers, string signingKey, List<Action<IWebHostBuilder>> configure)
    {
        _servers = servers;
        SigningKey = signingKey;
        _configure = configure;
    }

    /// <summary>The base64 key the Api signs access tokens with (Auth:SigningKey).</summary>
    public string SigningKey { get; }

    public TestServers Servers => _servers
        ?? throw new InvalidOperationException("ApiFactory is not initialised: use it as a class fixture (xunit calls InitializeAsync) or await InitializeAsync().");

    /// <summary>The shared test database, for arranging and asserting rows.</summary>
    public NpgsqlDataSource DataSource => Servers.DataSource;

    public async Task InitializeAsync() => _servers ??= await TestServers.GetAsync();

    Task IAsyncLifetime.DisposeAsync() => DisposeAsync().AsTask();

    /// <summary>A new factory (same servers and signing key) with extra configuration; dispose it.</summary>
    public ApiFactory WithSettings(IReadOnlyDictionary<string, string?> settings) =>
        WithHost(builder =>
        {
            builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(settings));
            // Also as host settings, for what is read while Program registers services (see ConfigureWebHost).
            foreach (var (key, value) in settings)
            {
                builder.UseSetting(key, value);
            }
        });

    /// <summary>A new factory (same servers and signing key) with extra host configuration, e.g. replaced services; dispose it.</summary>
    public ApiFactory WithHost(Action<IWebHostBuilder> configure) => new(Servers, SigningKey, [.. _configure, configure]);

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        var servers = Servers;
        builder.UseEnvironment("Development");
        // App configuration (not UseSetting): these sources come last, so they win over appsettings*.json.
        builder.ConfigureAppConfiguration((_, config) => config.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = servers.PostgresConnectionString,
            ["ConnectionStrings:redis"] = servers.RedisConnectionString,
            ["Auth:SigningKey"] = SigningKey,
            ["Encryption:MasterKey"] = TestServers.EncryptionMasterKey,
        }));
        // Aspire's client integrations read their connection strings while Program registers services, before the
        // app configuration above is added; host settings are there from the start.
        builder.UseSetting("ConnectionStrings:postgres", servers.PostgresConnectionString);
        builder.UseSetting("ConnectionStrings:redis", servers.RedisConnectionString);
        builder.ConfigureServices(services => services.AddSingleton<IStartupFilter, ClientAddressStartupFilter>());
        foreach (var configure in _configure)
        {
            configure(builder);
        }
    }

    protected override void ConfigureClient(HttpClient client)
    {
        ArgumentNullException.ThrowIfNull(client);
        base.ConfigureClient(client);
        client.DefaultRequestHeaders.Add(ClientAddressHeader, NewClientAddress().ToString());
    }

    /// <summary>
    /// Serves the Api on Kestrel at a free loopback port instead of in memory (for a separate client such as Web
    /// that connects over sockets) and returns its address; <see cref="CreateClient()"/> then connects there too.
    /// </summary>
    public Uri StartOnKestrel()
    {
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new Uri(address.Replace("[::1]", "localhost", StringComparison.Ordinal));
    }

    /// <summary>A client whose requests come from <paramref name="clientAddress"/> (instead of a fresh random one).</summary>
    public HttpClient CreateClient(IPAddress clientAddress)
    {
        ArgumentNullException.ThrowIfNull(clientAddress);
        var client = CreateClient();
        client.DefaultRequestHeaders.Remove(ClientAddressHeader);
        client.DefaultRequestHeaders.Add(ClientAddressHeader, clientAddress.ToString());
        return client;
    }

    /// <summary>A random private address no other client of this run is likely to use.</summary>
    public static IPAddress NewClientAddress() => new([10, .. RandomNumberGenerator.GetBytes(3)]);

    /// <summary>
    /// Creates a unique user (role "user" unless given, e.g. "admin") in the default organisation (or the one named
    /// <paramref name="orgName"/>, created if needed), signs it in through <c>POST /v1/auth/token</c>, and returns a
    /// client that sends its access token.
    /// </summary>
    public async Task<(HttpClient Client, RegisteredUser User)> CreateUserClientAsync(string? role = null, string? orgName = null)
    {
        var (id, orgId, email, password, displayName, userRole) = await InsertUserAsync(role ?? AspireAiRoles.User, orgName ?? UserAccounts.DefaultOrgName);
        var client = CreateClient();
        using var response = await client.PostAsJsonAsync("/v1/auth/token", new { email, password });
        if (response.StatusCode != HttpStatusCode.OK)
        {
            throw new InvalidOperationException($"Signing in {email} failed: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        }
        var tokens = await response.Content.ReadFromJsonAsync<JsonElement>();
        var user = new RegisteredUser(id, orgId, email, password, displayName, userRole,
            tokens.GetProperty("accessToken").GetString()!, tokens.GetProperty("refreshToken").GetString()!);
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", user.AccessToken);
        return (client, user);
    }

    /// <summary><see cref="CreateUserClientAsync"/> for an administrator.</summary>
    public Task<(HttpClient Client, RegisteredUser User)> CreateAdminClientAsync() => CreateUserClientAsync(AspireAiRoles.Admin);

    /// <summary>A unique email address for a test user.</summary>
    public static string NewEmail(string purpose = "user") => $"{purpose}-{Guid.NewGuid():N}@test.aspireai.local";

    // Straight into the table: works whatever Auth:AllowRegistration says, and is the only way to make an admin.
    private async Task<(Guid Id, Guid OrgId, string Email, string Password, string DisplayName, string Role)> InsertUserAsync(string role, string orgName)
    {
        var id = Guid.CreateVersion7();
        var email = NewEmail(role);
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        var displayName = $"Test {role} {id.ToString("N")[^6..]}";
        await using var connection = await DataSource.OpenConnectionAsync();
        await using (var org = new NpgsqlCommand("INSERT INTO orgs (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", connection))
        {
            org.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            org.Parameters.Add(new() { Value = orgName });
            await org.ExecuteNonQueryAsync();
        }
        await using var insert = new NpgsqlCommand("""
            INSERT INTO users (id, org_id, email, display_name, password_hash, role)
            SELECT $1, id, $2, $3, $4, $5 FROM orgs WHERE name = $6
            RETURNING org_id
            """, connection);
        insert.Parameters.Add(new() { Value = id });
        insert.Parameters.Add(new() { Value = email });
        insert.Parameters.Add(new() { Value = displayName });
        insert.Parameters.Add(new() { Value = AdminSeeder.HashPassword(password) });
        insert.Parameters.Add(new() { Value = role });
        insert.Parameters.Add(new() { Value = orgName });
        var orgId = (Guid)(await insert.ExecuteScalarAsync())!;
        return (id, orgId, email, password, displayName, role);
    }

    /// <summary>Lets a test choose the client address the Api sees; TestServer leaves it empty otherwise.</summary>
    private sealed class ClientAddressStartupFilter : IStartupFilter
    {
        public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) => app =>
        {
            app.Use((context, nextMiddleware) =>
            {
                if (IPAddress.TryParse(context.Request.Headers[ClientAddressHeader].ToString(), out var address))
                {
                    context.Connection.RemoteIpAddress = address;
                }
                return nextMiddleware(context);
            });
            next(app);
        };
    }
}
