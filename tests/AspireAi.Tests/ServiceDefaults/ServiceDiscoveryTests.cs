using System.Net;
using AspireAi.ServiceDefaults;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.ServiceDefaults;

public sealed class ServiceDiscoveryTests
{
    private static ServiceEndpointResolver Resolver(Dictionary<string, string?> settings) =>
        new(new ConfigurationBuilder().AddInMemoryCollection(settings).Build());

    [Fact]
    public void Resolves_the_endpoint_named_by_the_scheme()
    {
        var resolver = Resolver(new()
        {
            ["services:api:http:0"] = "http://127.0.0.1:5080",
            ["services:api:https:0"] = "https://127.0.0.1:5443",
        });

        Assert.Equal(new Uri("http://127.0.0.1:5080"), resolver.Resolve("api", "http"));
        Assert.Equal(new Uri("https://127.0.0.1:5443"), resolver.Resolve("api", "https"));
        Assert.Null(resolver.Resolve("web", "http"));
    }

    [Fact]
    public void Https_plus_http_prefers_https_and_falls_back_to_http()
    {
        var both = Resolver(new()
        {
            ["services:api:http:0"] = "http://127.0.0.1:5080",
            ["services:api:https:0"] = "https://127.0.0.1:5443",
        });
        var httpOnly = Resolver(new() { ["services:api:http:0"] = "http://127.0.0.1:5080" });

        Assert.Equal(new Uri("https://127.0.0.1:5443"), both.Resolve("api", "https+http"));
        Assert.Equal(new Uri("http://127.0.0.1:5080"), httpOnly.Resolve("api", "https+http"));
    }

    [Theory]
    [InlineData("http://api")]
    [InlineData("https+http://api")]
    public async Task A_client_with_a_logical_base_address_reaches_the_configured_endpoint(string baseAddress)
    {
        await using var server = await ScriptedServer.StartAsync((context, _) => context.Response.WriteAsync("from api"));
        using var host = ClientHost.Create(
            new Dictionary<string, string?> { ["services:api:http:0"] = server.BaseAddress.ToString() },
            services => services.AddHttpClient("api", client => client.BaseAddress = new Uri(baseAddress)));

        var body = await host.CreateClient("api").GetStringAsync(new Uri("/chat/1?page=2", UriKind.Relative));

        Assert.Equal("from api", body);
        Assert.Equal("/chat/1", Assert.Single(server.Requests).Path);
    }

    [Fact]
    public async Task A_host_that_is_not_a_service_name_is_left_untouched()
    {
        var recorder = new RecordingHandler();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(new ConfigurationBuilder()
            .AddInMemoryCollection(new Dictionary<string, string?> { ["services:api:http:0"] = "http://127.0.0.1:5080" })
            .Build());
        services.AddHttpClient("stub").AddServiceDiscovery().ConfigurePrimaryHttpMessageHandler(() => recorder);
        await using var provider = services.BuildServiceProvider();
        var client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("stub");

        using var external = await client.GetAsync(new Uri("http://models.example.invalid/v1/chat?x=1"));
        using var service = await client.GetAsync(new Uri("http://api/v1/chat?x=1"));

        Assert.Equal(
            [new Uri("http://models.example.invalid/v1/chat?x=1"), new Uri("http://127.0.0.1:5080/v1/chat?x=1")],
            recorder.Uris);
    }

    private sealed class RecordingHandler : HttpMessageHandler
    {
        public List<Uri> Uris { get; } = [];

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Uris.Add(request.RequestUri!);
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { RequestMessage = request });
        }
    }
}
