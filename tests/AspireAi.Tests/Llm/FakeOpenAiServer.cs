using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm;
using AspireAi.Offline;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Llm;

/// <summary>
/// A real OpenAI-compatible HTTP server (Kestrel on 127.0.0.1, free port) for wire-level tests. It serves
/// <c>POST …/chat/completions</c> (JSON, or SSE <c>data: {...}</c> chunks ending in <c>data: [DONE]</c> when the
/// request says <c>"stream": true</c>) and <c>POST …/embeddings</c>, under <c>/v1/</c> (OpenAI and compatible servers)
/// and <c>/openai/v1/</c> (Azure's v1 endpoint). Replies are scripted per endpoint with <see cref="EnqueueChat"/> and
/// <see cref="EnqueueEmbeddings"/>; an empty queue answers with <see cref="DefaultChatReply"/> or deterministic
/// 384-wide embeddings. Every request is recorded (<see cref="Requests"/>) with its body and auth headers.
/// <code>
/// await using var server = await FakeOpenAiServer.StartAsync();
/// server.EnqueueChat(FakeOpenAiReply.Status(429, retryAfter: "1"), FakeOpenAiReply.Text("Hello!", chunks: 3));
/// // configure Llm:Provider=OpenAICompatible, Llm:Endpoint=server.Endpoint, Llm:ChatModel=...
/// Assert.True(server.ChatRequests[0].IncludeUsage);
/// </code>
/// Usage is sent in a final chunk only when the request asked for it (<c>stream_options.include_usage</c>), as
/// OpenAI does.
/// </summary>
public sealed class FakeOpenAiServer : IAsyncDisposable
{
    private readonly WebApplication _app;
    private readonly ConcurrentQueue<FakeOpenAiReply> _chat = new();
    private readonly ConcurrentQueue<FakeOpenAiReply> _embeddings = new();
    private readonly ConcurrentQueue<FakeOpenAiRequest> _requests = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _count;

    private FakeOpenAiServer(WebApplication app, string model)
    {
        _app = app;
        Model = model;
    }

    /// <summary>Root address, e.g. <c>http://127.0.0.1:41234/</c>.</summary>
    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>OpenAI-style base URL (<c>…/v1/</c>) for <c>Llm:Endpoint</c>.</summary>
    public Uri Endpoint => new(BaseAddress, "v1/");

    /// <summary>Azure-v1-style base URL (<c>…/openai/v1/</c>).</summary>
    public Uri AzureEndpoint => new(BaseAddress, "openai/v1/");

    /// <summary>Model name reported in responses when a reply does not set one.</summary>
    public string Model { get; }

    /// <summary>Answer when the chat queue is empty.</summary>
    public FakeOpenAiReply DefaultChatReply { get; set; } = FakeOpenAiReply.Text("Hello from the fake OpenAI server.");

    /// <summary>All requests, in arrival order.</summary>
    public IReadOnlyList<FakeOpenAiRequest> Requests => [.. _requests.OrderBy(r => r.Number)];

    /// <summary>Chat-completions requests, in arrival order.</summary>
    public IReadOnlyList<FakeOpenAiRequest> ChatRequests => [.. Requests.Where(r => r.IsChat)];

    /// <summary>Embeddings requests, in arrival order.</summary>
    public IReadOnlyList<FakeOpenAiRequest> EmbeddingRequests => [.. Requests.Where(r => r.IsEmbeddings)];

    /// <summary>Starts the server on a free port of 127.0.0.1.</summary>
    public static async Task<FakeOpenAiServer> StartAsync(string model = "fake-gpt")
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        builder.WebHost.UseShutdownTimeout(TimeSpan.FromSeconds(2));
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");

        var server = new FakeOpenAiServer(app, model);
        app.Run(server.HandleAsync);
        await app.StartAsync();
        server.BaseAddress = new Uri(app.Urls.Single().TrimEnd('/') + "/");
        return server;
    }

    /// <summary>Queues replies for the next chat-completions requests, one per request.</summary>
    public FakeOpenAiServer EnqueueChat(params FakeOpenAiReply[] replies)
    {
        foreach (var reply in replies)
        {
            _chat.Enqueue(reply);
        }

        return this;
    }

    /// <summary>Queues replies for the next embeddings requests, one per request.</summary>
    public FakeOpenAiServer EnqueueEmbeddings(params FakeOpenAiReply[] replies)
    {
        foreach (var reply in replies)
        {
            _embeddings.Enqueue(reply);
        }

        return this;
    }

    /// <summary>Stops the server; hanging replies are released first.</summary>
    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync();
        await _app.StopAsync();
        await _app.DisposeAsync();
        _stopping.Dispose();
    }

    private async Task HandleAsync(HttpContext context)
    {
        using var reader = new StreamReader(context.Request.Body, Encoding.UTF8);
        var body = await reader.ReadToEndAsync(context.RequestAborted);
        var headers = context.Request.Headers.ToDictionary(h => h.Key, h => h.Value.ToString(), StringComparer.OrdinalIgnoreCase);
        var request = new FakeOpenAiRequest(
            Interlocked.Increment(ref _count), context.Request.Method, context.Request.Path.Value ?? "/", body, headers, DateTimeOffset.UtcNow);
        _requests.Enqueue(request);

        using var aborted = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, _stopping.Token);
        var call = new FakeOpenAiCall(context, request, this, aborted.Token);
        try
        {
            if (request.IsChat)
            {
                await (_chat.TryDequeue(out var reply) ? reply : DefaultChatReply).Respond(call);
            }
            else if (request.IsEmbeddings)
            {
                await (_embeddings.TryDequeue(out var reply) ? reply : FakeOpenAiReply.Embeddings()).Respond(call);
            }
            else
            {
                context.Response.StatusCode = StatusCodes.Status404NotFound;
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
            // The client gave up (timeout) or the server is stopping: nothing more to send.
        }
    }
}

/// <summary>One recorded request.</summary>
/// <param name="Number">1-based arrival number across all endpoints.</param>
/// <param name="Method">HTTP method.</param>
/// <param name="Path">Request path.</param>
/// <param name="Body">Raw body.</param>
/// <param name="Headers">Request headers (case-insensitive keys).</param>
/// <param name="ReceivedAt">Arrival time.</param>
public sealed record FakeOpenAiRequest(int Number, string Method, string Path, string Body, IReadOnlyDictionary<string, string> Headers, DateTimeOffset ReceivedAt)
{
    /// <summary>True for chat completions.</summary>
    public bool IsChat => Path.EndsWith("/chat/completions", StringComparison.Ordinal);

    /// <summary>True for embeddings.</summary>
    public bool IsEmbeddings => Path.EndsWith("/embeddings", StringComparison.Ordinal);

    private JsonElement? _json;

    /// <summary>The body as JSON (undefined when empty).</summary>
    public JsonElement Json => _json ??= Body.Length == 0 ? default : JsonElement.Parse(Body);

    /// <summary>"stream": true.</summary>
    public bool Stream => Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("stream", out var s) && s.ValueKind == JsonValueKind.True;

    /// <summary>"stream_options": {"include_usage": true}.</summary>
    public bool IncludeUsage => Json.ValueKind == JsonValueKind.Object
        && Json.TryGetProperty("stream_options", out var o) && o.ValueKind == JsonValueKind.Object
        && o.TryGetProperty("include_usage", out var u) && u.ValueKind == JsonValueKind.True;

    /// <summary>The "model" field.</summary>
    public string? Model => Json.ValueKind == JsonValueKind.Object && Json.TryGetProperty("model", out var m) ? m.GetString() : null;

    /// <summary>A header value, or null.</summary>
    public string? Header(string name) => Headers.TryGetValue(name, out var value) ? value : null;
}

/// <summary>A tool call a scripted reply makes.</summary>
/// <param name="Id">Call id, e.g. <c>call_1</c>.</param>
/// <param name="Name">Function name.</param>
/// <param name="Arguments">Arguments JSON (sent in fragments when streaming).</param>
public sealed record FakeToolCall(string Id, string Name, string Arguments);

/// <summary>What the server is answering: the HTTP context, the parsed request and a token that fires when the client goes away.</summary>
public sealed record FakeOpenAiCall(HttpContext Context, FakeOpenAiRequest Request, FakeOpenAiServer Server, CancellationToken Aborted);

/// <summary>A scripted answer. Chat replies answer in JSON or SSE according to the request's <c>stream</c> flag.</summary>
public sealed class FakeOpenAiReply
{
    private static readonly JsonSerializerOptions Compact = new() { WriteIndented = false };
    private readonly Func<FakeOpenAiCall, Task> _respond;

    private FakeOpenAiReply(Func<FakeOpenAiCall, Task> respond) => _respond = respond;

    /// <summary>Answers the request.</summary>
    public Task Respond(FakeOpenAiCall call) => _respond(call);

    /// <summary>Text, streamed in <paramref name="chunks"/> pieces (words kept whole when possible).</summary>
    public static FakeOpenAiReply Text(string text, int chunks = 3, int promptTokens = 12, int completionTokens = 8, string? model = null, string finishReason = "stop") =>
        new(call => call.Request.Stream
            ? StreamText(call, text, chunks, promptTokens, completionTokens, model, finishReason, abortAfterText: false)
            : Json(call, 200, Completion(call, new JsonObject { ["role"] = "assistant", ["content"] = text }, finishReason, promptTokens, completionTokens, model)));

    /// <summary>Streams the text, then drops the connection without finishing the response (a crash mid-answer).</summary>
    public static FakeOpenAiReply TextThenDisconnect(string text, int chunks = 2) =>
        new(call => StreamText(call, text, chunks, 0, 0, null, "stop", abortAfterText: true));

    /// <summary>
    /// Tool calls. Streamed, the first delta of each call carries its id and name, arguments follow in
    /// <paramref name="fragments"/> pieces, and the deltas of different calls interleave by index (the header of the
    /// second call shares a chunk with the first fragment of the first).
    /// </summary>
    public static FakeOpenAiReply ToolCalls(IReadOnlyList<FakeToolCall> calls, int fragments = 3, int promptTokens = 20, int completionTokens = 10, string? model = null) =>
        new(call => call.Request.Stream
            ? StreamToolCalls(call, calls, fragments, promptTokens, completionTokens, model)
            : Json(call, 200, Completion(call, new JsonObject
            {
                ["role"] = "assistant",
                ["content"] = null,
                ["tool_calls"] = new JsonArray([.. calls.Select(c => (JsonNode)new JsonObject
                {
                    ["id"] = c.Id,
                    ["type"] = "function",
                    ["function"] = new JsonObject { ["name"] = c.Name, ["arguments"] = c.Arguments },
                })]),
            }, "tool_calls", promptTokens, completionTokens, model)));

    /// <summary>An error status with an OpenAI-style error body and, optionally, a Retry-After header.</summary>
    public static FakeOpenAiReply Status(int status, string? retryAfter = null, string message = "scripted failure") =>
        new(call =>
        {
            if (retryAfter is not null)
            {
                call.Context.Response.Headers.RetryAfter = retryAfter;
            }

            return Json(call, status, new JsonObject
            {
                ["error"] = new JsonObject { ["message"] = message, ["type"] = status == 429 ? "rate_limit_exceeded" : "server_error", ["code"] = null },
            });
        });

    /// <summary>Never answers; released when the client disconnects or the server stops.</summary>
    public static FakeOpenAiReply Hang() =>
        new(call => Task.Delay(Timeout.Infinite, call.Aborted));

    /// <summary>Embeddings for every input, of the requested width (<c>dimensions</c>) or <paramref name="dimensions"/>.</summary>
    public static FakeOpenAiReply Embeddings(int? dimensions = null) =>
        new(call =>
        {
            var json = call.Request.Json;
            var inputs = json.GetProperty("input") is { ValueKind: JsonValueKind.Array } array
                ? array.EnumerateArray().Select(i => i.GetString() ?? string.Empty).ToList()
                : [json.GetProperty("input").GetString() ?? string.Empty];
            var width = dimensions ?? (json.TryGetProperty("dimensions", out var d) ? d.GetInt32() : EmbeddingDefaults.Dimensions);
            var data = new JsonArray();
            for (var i = 0; i < inputs.Count; i++)
            {
                data.Add(new JsonObject
                {
                    ["object"] = "embedding",
                    ["index"] = i,
                    ["embedding"] = new JsonArray([.. OfflineEmbeddingGenerator.Embed(inputs[i], width).Select(v => (JsonNode)JsonValue.Create(v))]),
                });
            }

            var tokens = inputs.Sum(t => TokenCounter.Count(t));
            return Json(call, 200, new JsonObject
            {
                ["object"] = "list",
                ["data"] = data,
                ["model"] = json.TryGetProperty("model", out var m) ? m.GetString() : call.Server.Model,
                ["usage"] = new JsonObject { ["prompt_tokens"] = tokens, ["total_tokens"] = tokens },
            });
        });

    /// <summary>Anything else: write the response yourself.</summary>
    public static FakeOpenAiReply Custom(Func<FakeOpenAiCall, Task> respond) => new(respond);

    private static JsonObject Completion(FakeOpenAiCall call, JsonObject message, string finishReason, int promptTokens, int completionTokens, string? model) => new()
    {
        ["id"] = "chatcmpl-" + call.Request.Number.ToString(CultureInfo.InvariantCulture),
        ["object"] = "chat.completion",
        ["created"] = DateTimeOffset.UtcNow.ToUnixTimeSeconds(),
        ["model"] = model ?? call.Request.Model ?? call.Server.Model,
        ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["message"] = message, ["finish_reason"] = finishReason }),
        ["usage"] = Usage(promptTokens, completionTokens),
    };

    private static JsonObject Usage(int promptTokens, int completionTokens) => new()
    {
        ["prompt_tokens"] = promptTokens,
        ["completion_tokens"] = completionTokens,
        ["total_tokens"] = promptTokens + completionTokens,
    };

    private static async Task Json(FakeOpenAiCall call, int status, JsonObject body)
    {
        call.Context.Response.StatusCode = status;
        call.Context.Response.ContentType = "application/json";
        await call.Context.Response.WriteAsync(body.ToJsonString(Compact), call.Aborted);
    }

    private static async Task StreamText(
        FakeOpenAiCall call, string text, int chunks, int promptTokens, int completionTokens, string? model, string finishReason, bool abortAfterText)
    {
        var stream = new SseWriter(call, model);
        await stream.StartAsync();
        await stream.ChunkAsync(new JsonObject { ["role"] = "assistant", ["content"] = string.Empty });
        foreach (var piece in Split(text, chunks))
        {
            await stream.ChunkAsync(new JsonObject { ["content"] = piece });
        }

        if (abortAfterText)
        {
            // Give the flushed chunks time to leave the socket: an abort discards output still queued in Kestrel.
            await Task.Delay(200, call.Aborted);
            call.Context.Abort();
            return;
        }

        await stream.ChunkAsync(new JsonObject(), finishReason);
        await stream.FinishAsync(promptTokens, completionTokens);
    }

    private static async Task StreamToolCalls(FakeOpenAiCall call, IReadOnlyList<FakeToolCall> calls, int fragments, int promptTokens, int completionTokens, string? model)
    {
        var stream = new SseWriter(call, model);
        await stream.StartAsync();
        var pieces = calls.Select(c => Split(c.Arguments, fragments)).ToList();
        var sent = new int[calls.Count];

        static JsonObject Header(int index, FakeToolCall toolCall) => new()
        {
            ["index"] = index,
            ["id"] = toolCall.Id,
            ["type"] = "function",
            ["function"] = new JsonObject { ["name"] = toolCall.Name, ["arguments"] = string.Empty },
        };

        JsonObject Fragment(int index) => new()
        {
            ["index"] = index,
            ["function"] = new JsonObject { ["arguments"] = pieces[index][sent[index]++] },
        };

        await stream.ChunkAsync(new JsonObject { ["role"] = "assistant", ["content"] = null, ["tool_calls"] = new JsonArray(Header(0, calls[0])) });
        for (var i = 1; i < calls.Count; i++)
        {
            // The next call's header travels with a fragment of the previous call: one chunk, two indexes.
            var deltas = new JsonArray();
            if (sent[i - 1] < pieces[i - 1].Count)
            {
                deltas.Add(Fragment(i - 1));
            }

            deltas.Add(Header(i, calls[i]));
            await stream.ChunkAsync(new JsonObject { ["tool_calls"] = deltas });
        }

        // Remaining fragments round-robin across calls, one delta per chunk.
        for (var more = true; more;)
        {
            more = false;
            for (var i = 0; i < calls.Count; i++)
            {
                if (sent[i] < pieces[i].Count)
                {
                    await stream.ChunkAsync(new JsonObject { ["tool_calls"] = new JsonArray(Fragment(i)) });
                    more = true;
                }
            }
        }

        await stream.ChunkAsync(new JsonObject(), "tool_calls");
        await stream.FinishAsync(promptTokens, completionTokens);
    }

    private static List<string> Split(string text, int pieces)
    {
        pieces = Math.Max(1, Math.Min(pieces, Math.Max(1, text.Length)));
        var size = (int)Math.Ceiling(text.Length / (double)pieces);
        var result = new List<string>();
        for (var start = 0; start < text.Length; start += size)
        {
            result.Add(text.Substring(start, Math.Min(size, text.Length - start)));
        }

        if (result.Count == 0)
        {
            result.Add(string.Empty);
        }

        return result;
    }

    private sealed class SseWriter(FakeOpenAiCall call, string? model)
    {
        private readonly string _id = "chatcmpl-" + call.Request.Number.ToString(CultureInfo.InvariantCulture);
        private readonly long _created = DateTimeOffset.UtcNow.ToUnixTimeSeconds();
        private readonly string _model = model ?? call.Request.Model ?? call.Server.Model;

        public async Task StartAsync()
        {
            call.Context.Response.StatusCode = 200;
            call.Context.Response.ContentType = "text/event-stream";
            call.Context.Response.Headers.CacheControl = "no-cache";
            await call.Context.Response.StartAsync(call.Aborted);
        }

        public Task ChunkAsync(JsonObject delta, string? finishReason = null) => WriteAsync(new JsonObject
        {
            ["id"] = _id,
            ["object"] = "chat.completion.chunk",
            ["created"] = _created,
            ["model"] = _model,
            ["choices"] = new JsonArray(new JsonObject { ["index"] = 0, ["delta"] = delta, ["finish_reason"] = finishReason }),
        }.ToJsonString(Compact));

        public async Task FinishAsync(int promptTokens, int completionTokens)
        {
            if (call.Request.IncludeUsage)
            {
                await WriteAsync(new JsonObject
                {
                    ["id"] = _id,
                    ["object"] = "chat.completion.chunk",
                    ["created"] = _created,
                    ["model"] = _model,
                    ["choices"] = new JsonArray(),
                    ["usage"] = Usage(promptTokens, completionTokens),
                }.ToJsonString(Compact));
            }

            await WriteAsync("[DONE]");
        }

        private async Task WriteAsync(string data)
        {
            await call.Context.Response.WriteAsync($"data: {data}\n\n", call.Aborted);
            await call.Context.Response.Body.FlushAsync(call.Aborted);
        }
    }
}
