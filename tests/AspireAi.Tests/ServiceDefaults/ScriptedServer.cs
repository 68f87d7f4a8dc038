using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.ServiceDefaults;

// A real Kestrel server on 127.0.0.1 with a free port that answers each request with a scripted
// response and records what it received, so client-side behaviour is observed from the wire.
internal sealed class ScriptedServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<RecordedRequest> _requests = new();
    private int _count;

    private ScriptedServer(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public IReadOnlyList<RecordedRequest> Requests => [.. _requests.OrderBy(request => request.Number)];

    // respond gets the 1-based number of the request.
    public static async Task<ScriptedServer> StartAsync(Func<HttpContext, int, Task> respond)
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");

        var server = new ScriptedServer(app);
        app.Run(async context =>
        {
            var number = Interlocked.Increment(ref server._count);
            var timestamp = Stopwatch.GetTimestamp();
            using var reader = new StreamReader(context.Request.Body);
            var body = await reader.ReadToEndAsync(context.RequestAborted);
            server._requests.Enqueue(new RecordedRequest(
                number, timestamp, context.Request.Method, context.Request.Path, body, context.Request.ContentType));
            await respond(context, number);
        });

        await app.StartAsync();
        server.BaseAddress = new Uri(app.Urls.Single());
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}

internal sealed record RecordedRequest(int Number, long Timestamp, string Method, string Path, string Body, string? ContentType);
