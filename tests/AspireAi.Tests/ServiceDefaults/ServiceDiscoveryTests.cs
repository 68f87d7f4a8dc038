using System.Net;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.ServiceDefaults;

public sealed class ServiceDiscoveryTests
{
    [Theory]
    [InlineData("http://api")]
    [InlineData("https+http://api")]
    public async Task A_client_with_a_logical_base_address_reaches_the_endpoint_the_AppHost_configured(string baseAddress)
    {
        await using var server = await ScriptedServer.StartAsync((context, _) => context.Response.WriteAsync("from api"));
        // The AppHost injects services__api__http__0; configuration sees it as services:api:http:0.
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
        using var host = ClientHost.Create(
            new Dictionary<string, string?> { ["services:api:http:0"] = "http://127.0.0.1:5080" },
            services => services.AddHttpClient("stub").ConfigurePrimaryHttpMessageHandler(() => recorder));
        var client = host.CreateClient("stub");

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
