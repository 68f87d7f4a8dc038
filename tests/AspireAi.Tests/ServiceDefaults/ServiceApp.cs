using Microsoft.AspNetCore.Builder;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.ServiceDefaults;

// A service built the way Program.cs builds one (AddServiceDefaults + MapDefaultEndpoints), on Kestrel
// at 127.0.0.1 with a free port, in Production so nothing Development-only hides what ships.
internal sealed class ServiceApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private ServiceApp(WebApplication app, HttpClient client)
    {
        _app = app;
        Client = client;
    }

    public HttpClient Client { get; }

    public static async Task<ServiceApp> StartAsync(Action<WebApplicationBuilder> configure, Action<WebApplication> map)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        // Before AddServiceDefaults, like settings a real service gets from appsettings or the environment.
        configure(builder);
        builder.AddServiceDefaults();

        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");
        app.MapDefaultEndpoints();
        map(app);
        await app.StartAsync();

        return new ServiceApp(app, new HttpClient { BaseAddress = new Uri(app.Urls.Single()) });
    }

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
