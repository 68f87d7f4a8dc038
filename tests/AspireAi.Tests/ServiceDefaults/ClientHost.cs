using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Tests.ServiceDefaults;

// The client side of the HTTP tests: a host configured exactly like a service (AddServiceDefaults), so
// the handlers under test are the ones ConfigureHttpClientDefaults puts on every client.
internal static class ClientHost
{
    public static IHost Create(IDictionary<string, string?> settings, Action<IServiceCollection> configure)
    {
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddServiceDefaults();
        configure(builder.Services);
        return builder.Build();
    }

    public static HttpClient CreateClient(this IHost host, string name) =>
        host.Services.GetRequiredService<IHttpClientFactory>().CreateClient(name);
}
