using System.Text;

namespace AspireAi.ChatBench;

/// <summary>
/// An OpenAI-compatible streaming endpoint. By default it answers at once, so every millisecond measured is ours;
/// with an answer time it spreads its chunks over that time, like a model generating (the first after 1/20 of it).
/// </summary>
internal static class FakeProvider
{
    private const int Chunks = 20;

    public static async Task<WebApplication> StartAsync(TimeSpan answerTime = default)
    {
        var perChunk = answerTime / Chunks;
        var builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        var app = builder.Build();
        app.MapPost("/v1/chat/completions", async (HttpContext http) =>
        {
            // The request body is read fully, as a real provider would, but its content does not matter here.
            using var reader = new StreamReader(http.Request.Body);
            await reader.ReadToEndAsync(http.RequestAborted);
            http.Response.ContentType = "text/event-stream";
            for (var i = 0; i < Chunks; i++)
            {
                if (perChunk > TimeSpan.Zero)
                {
                    await Task.Delay(perChunk, http.RequestAborted);
                }
                var role = i == 0 ? "\"role\":\"assistant\"," : "";
                await WriteAsync(http, $$"""{"id":"b","object":"chat.completion.chunk","created":0,"model":"bench-model","choices":[{"index":0,"delta":{{{role}}"content":"tok{{i}} "},"finish_reason":null}]}""");
            }
            await WriteAsync(http, """{"id":"b","object":"chat.completion.chunk","created":0,"model":"bench-model","choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}""");
            await WriteAsync(http, """{"id":"b","object":"chat.completion.chunk","created":0,"model":"bench-model","choices":[],"usage":{"prompt_tokens":50,"completion_tokens":20,"total_tokens":70}}""");
            await http.Response.WriteAsync("data: [DONE]\n\n", http.RequestAborted);
        });
        await app.StartAsync();
        return app;
    }

    private static async Task WriteAsync(HttpContext http, string json)
    {
        await http.Response.Body.WriteAsync(Encoding.UTF8.GetBytes($"data: {json}\n\n"), http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }
}
