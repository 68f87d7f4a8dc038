using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Json;
using AspireAi.Core.Caching;
using AspireAi.Core.Llm;
using AspireAi.LocalServers;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using StackExchange.Redis;

namespace AspireAi.Bench.Embeddings;

/// <summary>
/// <c>embed-path [--peers DIR] [--queries N]</c>: where the time of one question's embedding goes when the model is
/// an OpenAI-compatible server (the chat bench's <c>--embeddings upstream</c>). Starts the peers' fake server (it
/// answers at once) and a Redis, builds the Api's embedding pipeline from the same registrations
/// (<see cref="LlmExtensions.AddLlm(IHostApplicationBuilder)"/>, <see cref="CachingExtensions.AddSharedCache"/>), and
/// times one unique question at a time, layer by layer: a bare HttpClient, the model HttpClient with its resilience
/// handler, the generator without the query cache (OpenAI SDK, telemetry, logging), with it (HybridCache, a Redis
/// read on every miss), and that called through <see cref="Task.Run(Func{Task})"/> as the chat's prefetch does.
/// </summary>
internal static class QueryEmbeddingPathHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var peers = Text(args, "--peers") ?? Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "shared", "peers");
        var queries = EmbeddingBenchHarness.Option(args, "--queries", 500);
        var work = Directory.CreateTempSubdirectory("aspireai-embedpath-").FullName;
        try
        {
            File.Copy(Path.Combine(peers, "fake-openai.mjs"), Path.Combine(work, "fake-openai.mjs"));
            var fakePort = NativeProcess.FreeTcpPort();
            await using var fake = ChildProcess.Start(new ChildProcessSpec("node", [Path.Combine(work, "fake-openai.mjs"), fakePort.ToString(CultureInfo.InvariantCulture)])
            {
                WorkingDirectory = work,
            }, _ => { });
            await using var redis = new RedisServer(new RedisServerOptions
            {
                DataDirectory = Path.Combine(work, "redis"), Password = "bench", Port = NativeProcess.FreeTcpPort(),
            });
            await redis.StartAsync();
            var upstream = $"http://127.0.0.1:{fakePort}/v1/";
            using var bare = new HttpClient();
            await WaitForAsync(bare, upstream);

            using var cached = await StartAsync(upstream, redis.ConnectionString, cache: true);
            using var uncached = await StartAsync(upstream, redis.ConnectionString, cache: false);
            var modelClient = uncached.Services.GetRequiredService<IHttpClientFactory>().CreateClient("llm");
            var withCache = cached.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            var withoutCache = uncached.Services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>();
            Console.WriteLine($"embed-path: {queries} unique questions per layer, one at a time; {Environment.ProcessorCount} cores, load {LoadAverage()}");
            Console.WriteLine("| layer | p50 ms | p95 ms | p99 ms |");
            Console.WriteLine("|---|---:|---:|---:|");
            await MeasureAsync("bare HttpClient POST /v1/embeddings", queries, q => PostAsync(bare, upstream, q));
            await MeasureAsync("model HttpClient (resilience handler)", queries, q => PostAsync(modelClient, upstream, q));
            await MeasureAsync("generator without the query cache (SDK, telemetry, logging)", queries, q => withoutCache.GenerateAsync([q]));
            await MeasureAsync("generator with the query cache (a miss: HybridCache, Redis read)", queries, q => withCache.GenerateAsync([q]));
            await MeasureAsync("the same through Task.Run, as the chat's prefetch", queries, q => Task.Run(() => withCache.GenerateAsync([q])));
            await MeasureAsync("a hit of the query cache (in process)", queries, _ => withCache.GenerateAsync(["the same question every time"]));
            return 0;
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static async Task<IHost> StartAsync(string upstream, string redis, bool cache)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Llm:Provider"] = "OpenAICompatible",
            ["Llm:Endpoint"] = upstream,
            ["Llm:ChatModel"] = "fake-model",
            ["Llm:ApiKey"] = "bench",
            ["Llm:EmbeddingProvider"] = "OpenAICompatible",
            ["Llm:EmbeddingModel"] = "fake-embed",
            ["Llm:QueryEmbeddingCacheDuration"] = cache ? "1.00:00:00" : "00:00:00",
        });
        builder.Services.AddSingleton<IConnectionMultiplexer>(_ => ConnectionMultiplexer.Connect(redis));
        builder.AddSharedCache();
        builder.AddLlm();
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    private static async Task PostAsync(HttpClient client, string upstream, string question)
    {
        using var response = await client.PostAsJsonAsync($"{upstream}embeddings", new { model = "fake-embed", input = new[] { question }, encoding_format = "base64" });
        response.EnsureSuccessStatusCode();
        await response.Content.ReadAsByteArrayAsync();
    }

    private static async Task MeasureAsync(string layer, int queries, Func<string, Task> call)
    {
        var run = Guid.NewGuid().ToString("N")[..8];
        for (var i = 0; i < 50; i++)
        {
            await call($"Warm-up {run} {i}: what should I pack for a weekend in Lisbon in spring?");
        }
        var latencies = new double[queries];
        for (var i = 0; i < queries; i++)
        {
            var question = $"Benchmark {run} request {i}: what should I pack for a weekend in Lisbon in spring?";
            var started = Stopwatch.GetTimestamp();
            await call(question);
            latencies[i] = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
        Array.Sort(latencies);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"| {layer} | {EmbeddingBenchHarness.Percentile(latencies, 0.50):0.000} | {EmbeddingBenchHarness.Percentile(latencies, 0.95):0.000} | {EmbeddingBenchHarness.Percentile(latencies, 0.99):0.000} |"));
    }

    private static async Task WaitForAsync(HttpClient client, string upstream)
    {
        for (var attempt = 0; ; attempt++)
        {
            try
            {
                using var response = await client.GetAsync($"{upstream}models");
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException) when (attempt < 100)
            {
            }
            await Task.Delay(100);
        }
    }

    private static string LoadAverage() => string.Join(", ", File.ReadAllText("/proc/loadavg").Split(' ').Take(3));

    private static string? Text(string[] args, string name) =>
        Array.IndexOf(args, name) is var i && i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
}
