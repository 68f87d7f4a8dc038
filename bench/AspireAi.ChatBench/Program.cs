using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using AspireAi.ChatBench;

// Server-added latency to first token: the same fake provider called through the Api (auth, budget check,
// history load, prompt render, persistence of the user message, SSE) and directly. Usage:
//   dotnet run -c Release --project bench/AspireAi.ChatBench [-- --requests-per-level 400]
// The load run (LoadRun.cs): many concurrent streams against a provider that takes 2 s per answer:
//   dotnet run -c Release --project bench/AspireAi.ChatBench -- --load [--streams 500] [--deadline-seconds 300]
// Side by side with the Portkey gateway (SideBySide.cs), the peers' fake upstream and this load client:
//   dotnet run -c Release --project bench/AspireAi.ChatBench -- --side-by-side [--levels 1,50,200] [--requests 300,600,800]
//     [--peers ../shared/peers] [--peers-packages $PEERS_DIR, default /tmp/peers] [--embeddings local|upstream] [--warmup 200]
//     [--service-env NAME=VALUE ...] (the Api's and the Workers' environment only: runtime switches to compare)
//     [--block-turns 2] (requests per stream in each measured block; each block opens with all streams at once)
if (args.Contains("--load"))
{
    return await LoadRun.RunAsync(
        Option(args, "--streams") ?? 500, TimeSpan.FromSeconds(Option(args, "--deadline-seconds") ?? 300));
}
if (args.Contains("--side-by-side"))
{
    return await SideBySide.RunAsync(
        Text(args, "--peers") ?? Path.Combine(RepositoryRoot(), "..", "shared", "peers"),
        Text(args, "--peers-packages") ?? Environment.GetEnvironmentVariable("PEERS_DIR") ?? Path.Combine(Path.GetTempPath(), "peers"),
        Numbers(args, "--levels") ?? [1, 50, 200], Numbers(args, "--requests") ?? [300, 600, 800],
        upstreamEmbeddings: Text(args, "--embeddings") == "upstream", warmup: Option(args, "--warmup") ?? 200,
        serviceEnvironment: ServiceEnvironment(args), blockTurns: Option(args, "--block-turns") ?? 2);
}
var requestsPerLevel = Option(args, "--requests-per-level") ?? 400;
int[] concurrencyLevels = [1, 50, 200];

await using var provider = await FakeProvider.StartAsync();
var providerUrl = provider.Urls.First();
await using var stack = await BenchStack.StartAsync($"{providerUrl}/v1/", "bench-model", withWorkers: false);
var apiUrl = stack.ApiUrl;
var http = stack.Http;
var benchUsers = await stack.CreateUsersAsync(concurrencyLevels.Max());
var tokens = benchUsers.Select(u => u.Token).ToList();
var conversations = benchUsers.Select(u => u.ConversationId).ToList();
var questions = 0;

Console.WriteLine($"# time to first token, {requestsPerLevel} streams per level, {Environment.ProcessorCount} cores");
Console.WriteLine("| concurrency | path | p50 ms | p95 ms | p99 ms |");
Console.WriteLine("|---:|---|---:|---:|---:|");
// Warm-up: JIT, connection pools, prepared plans.
await MeasureAsync(10, 50, i => ViaApiAsync(i % tokens.Count));
await MeasureAsync(10, 50, _ => DirectAsync());
foreach (var level in concurrencyLevels)
{
    var direct = await MeasureAsync(level, requestsPerLevel, _ => DirectAsync());
    var viaApi = await MeasureAsync(level, requestsPerLevel, i => ViaApiAsync(i % level));
    Print(level, "direct to provider", direct);
    Print(level, "through the Api", viaApi);
    Console.WriteLine($"| {level} | **added by the Api** | {BenchData.P(viaApi, 50) - BenchData.P(direct, 50):0.00} | {BenchData.P(viaApi, 95) - BenchData.P(direct, 95):0.00} | {BenchData.P(viaApi, 99) - BenchData.P(direct, 99):0.00} |");
}
return 0;

async Task<double> ViaApiAsync(int slot)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, $"/v1/conversations/{conversations[slot]}/messages"))
    {
        // A different question each time: a repeated one would be answered from the query-embedding cache.
        Content = JsonContent.Create(new { content = $"How is the weather in Lisbon in spring? (question {Interlocked.Increment(ref questions)})" }),
    };
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens[slot]);
    request.Headers.Accept.ParseAdd("text/event-stream");
    return await FirstTokenAsync(request, "event: delta");
}

async Task<double> DirectAsync()
{
    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{providerUrl}/v1/chat/completions"))
    {
        Content = JsonContent.Create(new { model = "bench-model", stream = true, messages = new[] { new { role = "user", content = "How is the weather in Lisbon in spring?" } } }),
    };
    return await FirstTokenAsync(request, "\"content\"");
}

async Task<double> FirstTokenAsync(HttpRequestMessage request, string marker)
{
    var started = Stopwatch.GetTimestamp();
    using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
    if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait)
    {
        // Refused by admission control: not a sample; the client waits as told before its next request.
        await Task.Delay(wait);
        return double.NaN;
    }
    response.EnsureSuccessStatusCode();
    await using var stream = await response.Content.ReadAsStreamAsync();
    using var reader = new StreamReader(stream);
    double? firstToken = null;
    while (await reader.ReadLineAsync() is { } line)
    {
        if (firstToken is null && line.Contains(marker, StringComparison.Ordinal))
        {
            firstToken = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        }
    }
    // Read to the end so the exchange completes (and is persisted) before the next one starts.
    return firstToken ?? throw new InvalidOperationException("The stream had no token.");
}

static async Task<List<double>> MeasureAsync(int concurrency, int total, Func<int, Task<double>> once)
{
    var results = new List<double>(total);
    var next = -1;
    var workers = Enumerable.Range(0, concurrency).Select(async _ =>
    {
        while (Interlocked.Increment(ref next) is var i && i < total)
        {
            var ms = await once(i);
            lock (results)
            {
                results.Add(ms);
            }
        }
    });
    await Task.WhenAll(workers);
    var refused = results.RemoveAll(double.IsNaN);
    if (refused > 0)
    {
        Console.WriteLine($"| {concurrency} | refused with 503 + Retry-After | {refused} of {total} | | |");
    }
    results.Sort();
    return results;
}

static void Print(int level, string path, List<double> sorted) =>
    Console.WriteLine($"| {level} | {path} | {BenchData.P(sorted, 50):0.00} | {BenchData.P(sorted, 95):0.00} | {BenchData.P(sorted, 99):0.00} |");

static int? Option(string[] args, string name) => Text(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : null;

static int[]? Numbers(string[] args, string name) =>
    Text(args, name)?.Split(',').Select(n => int.Parse(n, CultureInfo.InvariantCulture)).ToArray();

static string? Text(string[] args, string name) =>
    Array.IndexOf(args, name) is var i && i >= 0 && i + 1 < args.Length ? args[i + 1] : null;

// Every "--service-env NAME=VALUE" pair, in order (a later one of the same name wins).
static Dictionary<string, string?> ServiceEnvironment(string[] args)
{
    var environment = new Dictionary<string, string?>(StringComparer.Ordinal);
    for (var i = 0; i < args.Length; i++)
    {
        if (args[i] != "--service-env")
        {
            continue;
        }
        if (i + 1 >= args.Length || args[i + 1].Split('=', 2) is not [{ Length: > 0 } name, var value])
        {
            throw new ArgumentException("--service-env takes NAME=VALUE, for example --service-env DOTNET_GCDynamicAdaptationMode=0.");
        }
        environment[name] = value;
    }
    return environment;
}

static string RepositoryRoot()
{
    for (var directory = new DirectoryInfo(Environment.CurrentDirectory); directory is not null; directory = directory.Parent)
    {
        if (File.Exists(Path.Combine(directory.FullName, "AspireAi.sln")))
        {
            return directory.FullName;
        }
    }
    return Environment.CurrentDirectory;
}
