using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Web;

/// <summary>
/// Web in front of the real Api, both on Kestrel (real sockets), on the shared real Postgres and Redis: for the
/// pages whose behaviour is the Api's (documents, memories, jobs), where a fake would only test itself. One per
/// test class; each test signs in its own user with <see cref="SignInAsync"/>.
/// </summary>
public sealed class WebStackFixture : IAsyncLifetime, IAsyncDisposable
{
    private readonly IReadOnlyDictionary<string, string?>? _apiSettings;
    private readonly IReadOnlyDictionary<string, string?> _webSettings;
    private ApiFactory? _baseApi;
    private WebAppFactory? _web;

    public WebStackFixture()
        : this(null, null)
    {
    }

    /// <summary>A stack with extra Api and/or Web configuration (e.g. a small upload limit); initialise and dispose it.</summary>
    internal WebStackFixture(IReadOnlyDictionary<string, string?>? apiSettings, IReadOnlyDictionary<string, string?>? webSettings)
    {
        // Every browser here is 127.0.0.1 behind the Web: the tests sign in more users a minute than the per-address
        // auth bucket allows one real address (RateLimitApiTests cover that bucket).
        var settings = new Dictionary<string, string?>(apiSettings ?? new Dictionary<string, string?>())
        {
            ["RateLimits:Plans:standard:Auth:Capacity"] = "100000",
            ["RateLimits:Plans:standard:Auth:PerMinute"] = "100000",
        };
        _apiSettings = settings;
        _webSettings = webSettings ?? new Dictionary<string, string?>();
    }

    /// <summary>The real Api: create users, arrange data through its endpoints, and assert rows through its DataSource.</summary>
    public ApiFactory Api { get; private set; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        await Api.InitializeAsync();
        if (_apiSettings is not null)
        {
            // WithSettings needs the initialised servers; it keeps the same database, signing key and helpers.
            _baseApi = Api;
            Api = _baseApi.WithSettings(_apiSettings);
        }

        var apiAddress = Api.StartOnKestrel();
        _web = new WebAppFactory(apiAddress, _webSettings);
        BaseAddress = _web.Start();
    }

    internal WebBrowser CreateBrowser() => new(BaseAddress);

    /// <summary>
    /// A new user (or admin) of the real Api, signed in to Web in a fresh browser; the Api client acts as the same
    /// user, to arrange data and check what the pages did.
    /// </summary>
    internal async Task<(WebBrowser Browser, HttpClient Api, RegisteredUser User)> SignInAsync(string? role = null)
    {
        var (client, user) = await Api.CreateUserClientAsync(role);
        var browser = CreateBrowser();
        using var response = await browser.SignInAsync(user.Email, user.Password);
        Assert.True(response.StatusCode == System.Net.HttpStatusCode.Redirect,
            $"Signing in {user.Email} through Web: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return (browser, client, user);
    }

    public async Task DisposeAsync()
    {
        if (_web is not null)
        {
            await _web.DisposeAsync();
            _web = null;
        }

        await Api.DisposeAsync();
        if (_baseApi is not null)
        {
            await _baseApi.DisposeAsync();
        }
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}
