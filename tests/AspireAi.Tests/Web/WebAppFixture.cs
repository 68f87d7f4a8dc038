using AspireAi.Web;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Mvc.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Web;

// The real Web app on Kestrel (real sockets, so a client that disconnects is seen as one), with service
// discovery pointing "http://api" at a FakeApi. One per test class; each test makes its own user.
public sealed class WebAppFixture : IAsyncLifetime, IAsyncDisposable
{
    private WebAppFactory? _factory;

    internal FakeApi Api { get; private set; } = null!;

    internal Uri BaseAddress { get; private set; } = null!;

    internal IServiceProvider Services => _factory!.Services;

    public async Task InitializeAsync()
    {
        Api = await FakeApi.StartAsync();
        _factory = new WebAppFactory(Api.BaseAddress, new Dictionary<string, string?>());
        BaseAddress = _factory.Start();
    }

    internal WebBrowser CreateBrowser() => new(BaseAddress);

    public async Task DisposeAsync()
    {
        if (_factory is not null)
        {
            await _factory.DisposeAsync();
            _factory = null;
        }

        await Api.DisposeAsync();
    }

    async ValueTask IAsyncDisposable.DisposeAsync() => await DisposeAsync();
}

internal sealed class WebAppFactory(Uri apiAddress, IReadOnlyDictionary<string, string?> settings, ILoggerProvider? logs = null)
    : WebApplicationFactory<WebAppMarker>
{
    public Uri Start()
    {
        UseKestrel(0);
        StartServer();
        var address = Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        return new Uri(address.Replace("[::1]", "localhost", StringComparison.Ordinal));
    }

    protected override void ConfigureWebHost(IWebHostBuilder builder)
    {
        builder.UseEnvironment("Development");
        builder.ConfigureLogging(logging =>
        {
            logging.ClearProviders();
            if (logs is not null)
            {
                logging.AddProvider(logs);
            }
        });
        builder.ConfigureAppConfiguration(configuration => configuration.AddInMemoryCollection(
            new Dictionary<string, string?>(settings) { ["services:api:http:0"] = apiAddress.ToString() }));
    }
}
