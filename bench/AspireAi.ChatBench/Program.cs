using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.LocalServers;
using AspireAi.ChatBench;
using AspireAi.Core.Data;
using AspireAi.Core.Identity;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

// Server-added latency to first token: the same fake provider called through the Api (auth, budget check,
// history load, prompt render, persistence of the user message, SSE) and directly. Usage:
//   dotnet run -c Release --project bench/AspireAi.ChatBench [-- --requests-per-level 400]
// Or the load run (LoadRun.cs): many concurrent streams against a provider that takes 2 s per answer:
//   dotnet run -c Release --project bench/AspireAi.ChatBench -- --load [--streams 500] [--deadline-seconds 300]
if (args.Contains("--load"))
{
    return await LoadRun.RunAsync(
        Option(args, "--streams") ?? 500, TimeSpan.FromSeconds(Option(args, "--deadline-seconds") ?? 300));
}
var requestsPerLevel = args.Length >= 2 && args[0] == "--requests-per-level" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 400;
int[] concurrencyLevels = [1, 50, 200];

var work = Directory.CreateTempSubdirectory("aspireai-chatbench-").FullName;
await using var postgres = new PostgresServer(new PostgresServerOptions
{
    DataDirectory = Path.Combine(work, "pg"), Password = BenchData.Secret(), Port = NativeProcess.FreeTcpPort(), Durable = true,
});
await using var redis = new RedisServer(new RedisServerOptions
{
    DataDirectory = Path.Combine(work, "redis"), Password = BenchData.Secret(), Port = NativeProcess.FreeTcpPort(), Durable = true,
});
await postgres.StartAsync();
await redis.StartAsync();
await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
await using var provider = await FakeProvider.StartAsync();
var providerUrl = provider.Urls.First();

var apiPort = NativeProcess.FreeTcpPort();
var apiDll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "AspireAi.Api", new DirectoryInfo(AppContext.BaseDirectory).Name, "AspireAi.Api.dll"));
await using var api = ChildProcess.Start(new ChildProcessSpec("dotnet", [apiDll])
{
    WorkingDirectory = Path.GetDirectoryName(apiDll),
    Environment = new Dictionary<string, string?>
    {
        ["ASPNETCORE_ENVIRONMENT"] = "Production",
        ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{apiPort}",
        ["ConnectionStrings__postgres"] = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { MaxPoolSize = 300 }.ConnectionString,
        ["ConnectionStrings__redis"] = redis.ConnectionString,
        ["Auth__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        ["Encryption__MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
        ["Llm__Provider"] = "OpenAICompatible",
        ["Llm__Endpoint"] = $"{providerUrl}/v1/",
        ["Llm__ChatModel"] = "bench-model",
        ["Llm__ApiKey"] = "bench",
        ["Llm__EmbeddingProvider"] = "Offline",
        ["Logging__LogLevel__Default"] = "Warning",
        // The harness sends hundreds of messages a minute per user; the per-user limit is not what it measures.
        ["RateLimits__Enabled"] = "false",
    },
}, line => { if (line.Contains("fail", StringComparison.OrdinalIgnoreCase)) Console.Error.WriteLine($"api | {line}"); });

var apiUrl = new Uri($"http://127.0.0.1:{apiPort}");
using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 1000 }) { Timeout = TimeSpan.FromMinutes(2) };
await BenchData.WaitHealthyAsync(http, apiUrl);

// One user per concurrent stream, each with its own conversation holding 20 messages of history.
var users = await BenchData.CreateUsersAsync(dataSource, concurrencyLevels.Max());
var tokens = new List<string>();
foreach (var (email, password) in users)
{
    using var response = await http.PostAsJsonAsync(new Uri(apiUrl, "/v1/auth/token"), new { email, password });
    response.EnsureSuccessStatusCode();
    tokens.Add((await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!);
}
var conversations = new List<Guid>();
foreach (var token in tokens)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, "/v1/conversations")) { Content = JsonContent.Create(new { title = "bench" }) };
    request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
    using var response = await http.SendAsync(request);
    var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    conversations.Add(id);
    await BenchData.SeedHistoryAsync(dataSource, id, 20);
}

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
    Console.WriteLine($"| {level} | **added by the Api** | {P(viaApi, 50) - P(direct, 50):0.00} | {P(viaApi, 95) - P(direct, 95):0.00} | {P(viaApi, 99) - P(direct, 99):0.00} |");
}
await api.StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(10));
return 0;

async Task<double> ViaApiAsync(int slot)
{
    using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, $"/v1/conversations/{conversations[slot]}/messages"))
    {
        Content = JsonContent.Create(new { content = "How is the weather in Lisbon in spring?" }),
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
    results.Sort();
    return results;
}

static double P(List<double> sorted, int percentile) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];

static void Print(int level, string path, List<double> sorted) =>
    Console.WriteLine($"| {level} | {path} | {P(sorted, 50):0.00} | {P(sorted, 95):0.00} | {P(sorted, 99):0.00} |");

static int? Option(string[] args, string name) =>
    Array.IndexOf(args, name) is var i && i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : null;
