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
var requestsPerLevel = args.Length >= 2 && args[0] == "--requests-per-level" ? int.Parse(args[1], CultureInfo.InvariantCulture) : 400;
int[] concurrencyLevels = [1, 50, 200];

var work = Directory.CreateTempSubdirectory("aspireai-chatbench-").FullName;
await using var postgres = new PostgresServer(new PostgresServerOptions
{
    DataDirectory = Path.Combine(work, "pg"), Password = Secret(), Port = NativeProcess.FreeTcpPort(), Durable = true,
});
await using var redis = new RedisServer(new RedisServerOptions
{
    DataDirectory = Path.Combine(work, "redis"), Password = Secret(), Port = NativeProcess.FreeTcpPort(), Durable = true,
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
await WaitHealthyAsync(http, apiUrl);

// One user per concurrent stream, each with its own conversation holding 20 messages of history.
var users = await CreateUsersAsync(dataSource, concurrencyLevels.Max());
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
    await SeedHistoryAsync(dataSource, id, 20);
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

static string Secret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

static async Task WaitHealthyAsync(HttpClient http, Uri apiUrl)
{
    for (var i = 0; i < 600; i++)
    {
        try
        {
            using var response = await http.GetAsync(new Uri(apiUrl, "/health"));
            if (response.IsSuccessStatusCode)
            {
                return;
            }
        }
        catch (HttpRequestException)
        {
        }
        await Task.Delay(100);
    }
    throw new TimeoutException("The Api did not become healthy.");
}

static async Task<List<(string Email, string Password)>> CreateUsersAsync(NpgsqlDataSource dataSource, int count)
{
    const string password = "bench-password-123";
    var hash = AdminSeeder.HashPassword(password);
    var orgId = Guid.CreateVersion7();
    await using (var org = dataSource.CreateCommand("INSERT INTO orgs (id, name) VALUES ($1, 'default')"))
    {
        org.Parameters.Add(new() { Value = orgId });
        await org.ExecuteNonQueryAsync();
    }
    var users = new List<(string, string)>();
    for (var i = 0; i < count; i++)
    {
        var email = $"bench{i}@bench.local";
        await using var insert = dataSource.CreateCommand("INSERT INTO users (id, org_id, email, display_name, password_hash, role) VALUES ($1, $2, $3, $4, $5, 'user')");
        insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
        insert.Parameters.Add(new() { Value = orgId });
        insert.Parameters.Add(new() { Value = email });
        insert.Parameters.Add(new() { Value = $"Bench {i}" });
        insert.Parameters.Add(new() { Value = hash });
        await insert.ExecuteNonQueryAsync();
        users.Add((email, password));
    }
    return users;
}

static async Task SeedHistoryAsync(NpgsqlDataSource dataSource, Guid conversationId, int messages)
{
    await using var command = dataSource.CreateCommand("""
        INSERT INTO messages (id, conversation_id, sequence, role, content, status)
        SELECT gen_random_uuid(), $1, s, CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END,
               repeat('Some earlier message text. ', 8), 'complete'
        FROM generate_series(1, $2) AS s
        """);
    command.Parameters.Add(new() { Value = conversationId });
    command.Parameters.Add(new() { Value = messages });
    await command.ExecuteNonQueryAsync();
    await using var count = dataSource.CreateCommand("UPDATE conversations SET message_count = $2 WHERE id = $1");
    count.Parameters.Add(new() { Value = conversationId });
    count.Parameters.Add(new() { Value = (long)messages });
    await count.ExecuteNonQueryAsync();
}
