using System.Diagnostics;
using System.Net;
using System.Text;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Polly.CircuitBreaker;

namespace AspireAi.Tests.ServiceDefaults;

public sealed class ResilienceHandlerTests
{
    private const string ClientName = "scripted";
    private const string OrderJson = """{"item":"book","quantity":2}""";

    // Production timings would make every test take tens of seconds; the retry logic is the same.
    private static Dictionary<string, string?> FastProfile(string profile, params (string Key, string Value)[] overrides)
    {
        var settings = new Dictionary<string, string?>
        {
            [$"Resilience:{profile}:Retry:Delay"] = "00:00:00.010",
            [$"Resilience:{profile}:AttemptTimeout:Timeout"] = "00:00:02",
            [$"Resilience:{profile}:TotalRequestTimeout:Timeout"] = "00:00:10",
        };
        foreach (var (key, value) in overrides)
        {
            settings[$"Resilience:{profile}:{key}"] = value;
        }

        return settings;
    }

    private static Task Respond(HttpContext context, int status, string body = "")
    {
        context.Response.StatusCode = status;
        return context.Response.WriteAsync(body);
    }

    [Fact]
    public async Task Does_not_replay_a_POST_without_an_idempotency_key_that_reached_the_server()
    {
        await using var server = await ScriptedServer.StartAsync((context, n) => Respond(context, n == 1 ? 503 : 200));
        using var host = ClientHost.Create(FastProfile("Standard"), services => services.AddHttpClient(ClientName));

        using var content = new StringContent(OrderJson, Encoding.UTF8, "application/json");
        using var response = await host.CreateClient(ClientName).PostAsync(new Uri(server.BaseAddress, "/orders"), content);

        // The server may have acted on the first attempt; a replay could place the order twice.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Single(server.Requests);
    }

    [Fact]
    public async Task Retries_a_POST_that_never_reached_the_server()
    {
        var port = AspireAi.LocalServers.NativeProcess.FreeTcpPort();
        var attempts = new AttemptCounter();
        using var host = ClientHost.Create(FastProfile("Standard", ("Retry:MaxRetryAttempts", "2")),
            services => services.AddHttpClient(ClientName).AddHttpMessageHandler(() => attempts));

        using var content = new StringContent(OrderJson, Encoding.UTF8, "application/json");
        await Assert.ThrowsAsync<HttpRequestException>(() => host.CreateClient(ClientName).PostAsync(new Uri($"http://127.0.0.1:{port}/orders"), content));

        // Nothing listens on the port: every attempt fails to connect, and a connection error is always safe to retry.
        Assert.Equal(3, attempts.Count);
    }

    private sealed class AttemptCounter : DelegatingHandler
    {
        private int _count;

        public int Count => Volatile.Read(ref _count);

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref _count);
            return base.SendAsync(request, cancellationToken);
        }
    }

    [Fact]
    public async Task Retries_a_GET_on_503_until_it_succeeds()
    {
        await using var server = await ScriptedServer.StartAsync((context, n) => Respond(context, n <= 2 ? 503 : 200, $"attempt {n}"));
        using var host = ClientHost.Create(FastProfile("Standard"), services => services.AddHttpClient(ClientName));

        using var response = await host.CreateClient(ClientName).GetAsync(server.BaseAddress);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("attempt 3", await response.Content.ReadAsStringAsync());
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task Retries_a_503_and_resends_the_POST_body_when_it_carries_an_idempotency_key()
    {
        await using var server = await ScriptedServer.StartAsync((context, n) => Respond(context, n == 1 ? 503 : 200));
        using var host = ClientHost.Create(FastProfile("Standard"), services => services.AddHttpClient(ClientName));

        using var content = new StringContent(OrderJson, Encoding.UTF8, "application/json");
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress, "/orders")) { Content = content };
        request.Headers.Add("Idempotency-Key", "order-42");

        using var response = await host.CreateClient(ClientName).SendAsync(request);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var requests = server.Requests;
        Assert.Equal(2, requests.Count);
        Assert.All(requests, request =>
        {
            Assert.Equal("POST", request.Method);
            Assert.Equal("/orders", request.Path);
            Assert.Equal(OrderJson, request.Body);
            Assert.StartsWith("application/json", request.ContentType, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Waits_for_Retry_After_before_retrying()
    {
        await using var server = await ScriptedServer.StartAsync((context, n) =>
        {
            if (n == 1)
            {
                context.Response.Headers.RetryAfter = "1";
                return Respond(context, 429);
            }

            return Respond(context, 200);
        });
        using var host = ClientHost.Create(FastProfile("Standard"), services => services.AddHttpClient(ClientName));

        using var response = await host.CreateClient(ClientName).GetAsync(server.BaseAddress);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var requests = server.Requests;
        Assert.Equal(2, requests.Count);
        // Without the header the backoff here is ~10 ms; the bounds only need to tell the two apart.
        var gap = Stopwatch.GetElapsedTime(requests[0].Timestamp, requests[1].Timestamp);
        Assert.InRange(gap, TimeSpan.FromMilliseconds(950), TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task Stops_after_the_maximum_retries_and_returns_the_last_response()
    {
        await using var server = await ScriptedServer.StartAsync((context, n) => Respond(context, 503, $"attempt {n}"));
        using var host = ClientHost.Create(
            FastProfile("Standard", ("Retry:MaxRetryAttempts", "2")),
            services => services.AddHttpClient(ClientName));

        using var response = await host.CreateClient(ClientName).GetAsync(server.BaseAddress);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal("attempt 3", await response.Content.ReadAsStringAsync());
        Assert.Equal(3, server.Requests.Count);
    }

    [Fact]
    public async Task Abandons_a_hanging_attempt_after_the_attempt_timeout_and_retries()
    {
        await using var server = await ScriptedServer.StartAsync(async (context, n) =>
        {
            if (n == 1)
            {
                try
                {
                    await Task.Delay(Timeout.Infinite, context.RequestAborted);
                }
                catch (OperationCanceledException)
                {
                    return;
                }
            }

            await Respond(context, 200, "second attempt");
        });
        using var host = ClientHost.Create(
            FastProfile("Standard", ("AttemptTimeout:Timeout", "00:00:00.300")),
            services => services.AddHttpClient(ClientName));

        var stopwatch = Stopwatch.StartNew();
        using var response = await host.CreateClient(ClientName).GetAsync(server.BaseAddress);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("second attempt", await response.Content.ReadAsStringAsync());
        Assert.Equal(2, server.Requests.Count);
        Assert.True(stopwatch.Elapsed < TimeSpan.FromSeconds(5), $"took {stopwatch.Elapsed}");
    }

    [Fact]
    public async Task Opens_the_circuit_per_downstream_service_and_keeps_it_across_handler_rotation()
    {
        await using var server = await ScriptedServer.StartAsync((context, _) => Respond(context, 500));
        await using var healthy = await ScriptedServer.StartAsync((context, _) => Respond(context, 200));
        using var host = ClientHost.Create(
            FastProfile(
            "Standard",
            [
                ("Retry:MaxRetryAttempts", "1"),
                ("CircuitBreaker:MinimumThroughput", "2"),
                ("CircuitBreaker:FailureRatio", "0.5"),
                ("CircuitBreaker:BreakDuration", "00:00:30"),
            ]),
            services => services.AddHttpClient(ClientName).SetHandlerLifetime(TimeSpan.FromSeconds(1)));

        // Two failed attempts (first try + one retry) reach the throughput and ratio: the circuit opens
        // and hands back the failure that opened it.
        using (var failure = await host.CreateClient(ClientName).GetAsync(server.BaseAddress))
        {
            Assert.Equal(HttpStatusCode.InternalServerError, failure.StatusCode);
        }

        Assert.Equal(2, server.Requests.Count);

        await Assert.ThrowsAsync<BrokenCircuitException>(() => host.CreateClient(ClientName).GetAsync(server.BaseAddress));
        Assert.Equal(2, server.Requests.Count);

        // The factory builds a new handler chain after the lifetime; the breaker must outlive it.
        await Task.Delay(TimeSpan.FromSeconds(1.5));
        await Assert.ThrowsAsync<BrokenCircuitException>(() => host.CreateClient(ClientName).GetAsync(server.BaseAddress));
        Assert.Equal(2, server.Requests.Count);

        // Another service has its own breaker, still closed, even through the same client.
        using var other = await host.CreateClient(ClientName).GetAsync(healthy.BaseAddress);
        Assert.Equal(HttpStatusCode.OK, other.StatusCode);
    }

    [Fact]
    public async Task Llm_handler_replaces_the_default_standard_handler()
    {
        await using var server = await ScriptedServer.StartAsync((context, _) => Respond(context, 503));
        var settings = FastProfile("Standard", ("Retry:MaxRetryAttempts", "3"));
        foreach (var (key, value) in FastProfile("Llm", ("Retry:MaxRetryAttempts", "1")))
        {
            settings[key] = value;
        }

        using var host = ClientHost.Create(settings, services => services.AddHttpClient("llm").AddLlmResilienceHandler());
        var client = host.CreateClient("llm");

        using var response = await client.GetAsync(server.BaseAddress);

        // One pipeline with the LLM profile: 1 try + 1 retry. The standard profile alone would make 4,
        // both stacked 8.
        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        Assert.Equal(2, server.Requests.Count);
        Assert.Equal(Timeout.InfiniteTimeSpan, client.Timeout);
    }

    [Fact]
    public async Task Llm_handler_replays_a_POST_that_reached_the_model_server_only_with_an_idempotency_key()
    {
        await using var server = await ScriptedServer.StartAsync((context, _) => Respond(context, 503));
        using var host = ClientHost.Create(FastProfile("Llm", ("Retry:MaxRetryAttempts", "1")),
            services => services.AddHttpClient("llm").AddLlmResilienceHandler());
        var client = host.CreateClient("llm");

        using (var content = new StringContent(OrderJson, Encoding.UTF8, "application/json"))
        using (var plain = await client.PostAsync(new Uri(server.BaseAddress, "/v1/chat/completions"), content))
        {
            // A generation that reached the provider may be billed or have run tools: never sent twice blindly.
            Assert.Equal(HttpStatusCode.ServiceUnavailable, plain.StatusCode);
            Assert.Single(server.Requests);
        }

        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(server.BaseAddress, "/v1/chat/completions"))
        {
            Content = new StringContent(OrderJson, Encoding.UTF8, "application/json"),
        };
        request.Headers.Add("Idempotency-Key", "generation-7");
        using var keyed = await client.SendAsync(request);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, keyed.StatusCode);
        Assert.Equal(3, server.Requests.Count);
        Assert.Equal(OrderJson, server.Requests[^1].Body);
    }
}
