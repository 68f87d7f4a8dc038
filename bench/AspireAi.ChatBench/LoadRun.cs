using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Core.Data;
using AspireAi.LocalServers;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AspireAi.ChatBench;

/// <summary>
/// The load run: <c>streams</c> users each open one streaming chat at the same moment, through the real Api and
/// Workers processes, against a fake provider that takes 2 s per answer (first chunk after 100 ms), all on
/// 127.0.0.1. Bounded: exactly that many streams, and everything is cancelled at the deadline. Reports errors,
/// the time to first token the Api adds (p50/p95/p99 over the provider's own first-token time at the same
/// concurrency), the peak memory of each service, and memory 30 s and 60 s after the load next to the baseline.
/// </summary>
internal static class LoadRun
{
    private static readonly TimeSpan AnswerTime = TimeSpan.FromSeconds(2);

    public static async Task<int> RunAsync(int streams, TimeSpan deadline)
    {
        var work = Directory.CreateTempSubdirectory("aspireai-loadbench-").FullName;
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
        await using var provider = await FakeProvider.StartAsync(AnswerTime);
        var providerUrl = provider.Urls.First();

        var settings = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__postgres"] = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { MaxPoolSize = 300 }.ConnectionString,
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["Auth__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            // One master key for both services: the Workers decrypt what the Api encrypted.
            ["Encryption__MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Llm__Provider"] = "OpenAICompatible",
            ["Llm__Endpoint"] = $"{providerUrl}/v1/",
            ["Llm__ChatModel"] = "bench-model",
            ["Llm__ApiKey"] = "bench",
            ["Llm__EmbeddingProvider"] = "Offline",
            ["Logging__LogLevel__Default"] = "Warning",
            // One stream per user here, but the users sign in and open conversations in a burst from one address.
            ["RateLimits__Enabled"] = "false",
        };
        var (apiUrl, api) = StartService("AspireAi.Api", "api", settings);
        await using var _ = api;
        // The Workers' model calls (memory extraction) are not what the fake provider answers (it only streams): they
        // use the offline model, the default, which also keeps their CPU cost realistic for a self-hosted setup.
        var workerSettings = new Dictionary<string, string?>(settings) { ["Llm__Provider"] = "Offline" };
        foreach (var key in new[] { "Llm__Endpoint", "Llm__ChatModel", "Llm__ApiKey" })
        {
            workerSettings.Remove(key);
        }
        var (workersUrl, workers) = StartService("AspireAi.Workers", "workers", workerSettings);
        await using var __ = workers;

        using var http = new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 2000 }) { Timeout = Timeout.InfiniteTimeSpan };
        await BenchData.WaitHealthyAsync(http, apiUrl);
        await BenchData.WaitHealthyAsync(http, workersUrl);

        var users = await BenchData.CreateUsersAsync(dataSource, streams);
        var tokens = new List<string>();
        var conversations = new List<Guid>();
        foreach (var (email, password) in users)
        {
            using var signIn = await http.PostAsJsonAsync(new Uri(apiUrl, "/v1/auth/token"), new { email, password });
            signIn.EnsureSuccessStatusCode();
            var token = (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
            using var create = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, "/v1/conversations")) { Content = JsonContent.Create(new { title = "load" }) };
            create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var created = await http.SendAsync(create);
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            await BenchData.SeedHistoryAsync(dataSource, id, 20);
            tokens.Add(token);
            conversations.Add(id);
        }

        // Warm-up (JIT, pools), then let the memory-extraction jobs it caused finish before the baseline.
        for (var i = 0; i < 10; i++)
        {
            await StreamAsync(http, apiUrl, tokens[i], conversations[i], CancellationToken.None);
        }
        await WaitForIdleQueueAsync(dataSource, TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(5));
        var services = new List<(string Name, Func<long> Bytes)>
        {
            ("api", () => Rss(api.Pid)),
            ("workers", () => Rss(workers.Pid)),
            ("postgres (PSS of all its processes)", () => postgres.Pid is { } pid ? PssWithChildren(pid) : 0),
            ("redis", () => redis.Pid is { } pid ? Rss(pid) : 0),
        };
        var baseline = services.Select(s => s.Bytes()).ToArray();
        var peaks = (long[])baseline.Clone();

        // The provider's own first-token time at the same concurrency, so only the Api's share is reported.
        var direct = await Task.WhenAll(Enumerable.Range(0, streams).Select(_ => DirectAsync(http, providerUrl)));

        using var stop = new CancellationTokenSource(deadline);
        using var sampling = new CancellationTokenSource();
        var sampler = Task.Run(async () =>
        {
            using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(250));
            while (await timer.WaitForNextTickAsync(sampling.Token).ConfigureAwait(false))
            {
                for (var i = 0; i < services.Count; i++)
                {
                    peaks[i] = Math.Max(peaks[i], services[i].Bytes());
                }
            }
        });
        var started = Stopwatch.GetTimestamp();
        var results = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => StreamAsync(http, apiUrl, tokens[i], conversations[i], stop.Token)));
        var wall = Stopwatch.GetElapsedTime(started);
        // The Workers' share of the load (memory extraction of every answer) comes after the streams.
        await WaitForIdleQueueAsync(dataSource, TimeSpan.FromMinutes(5));
        await sampling.CancelAsync();
        await sampler.ContinueWith(_ => { }, TaskScheduler.Default);
        await Task.Delay(TimeSpan.FromSeconds(30));
        var after30 = services.Select(s => s.Bytes()).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(30));
        var after60 = services.Select(s => s.Bytes()).ToArray();

        var ok = results.Where(r => r.Error is null).Select(r => r.FirstTokenMs).Order().ToList();
        var directTimes = direct.Order().ToList();
        Console.WriteLine($"# {streams} concurrent streams, provider {AnswerTime.TotalSeconds:0} s per answer, {Environment.ProcessorCount} cores, wall {wall.TotalSeconds:0.0} s");
        Console.WriteLine($"errors: {results.Count(r => r.Error is not null)} of {streams}");
        foreach (var error in results.Where(r => r.Error is not null).GroupBy(r => r.Error))
        {
            Console.WriteLine($"  {error.Count()} × {error.Key}");
        }
        Console.WriteLine();
        Console.WriteLine("| time to first token | p50 ms | p95 ms | p99 ms |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine($"| direct to provider | {P(directTimes, 50):0} | {P(directTimes, 95):0} | {P(directTimes, 99):0} |");
        if (ok.Count > 0)
        {
            Console.WriteLine($"| through the Api | {P(ok, 50):0} | {P(ok, 95):0} | {P(ok, 99):0} |");
            Console.WriteLine($"| **added by the Api** | {P(ok, 50) - P(directTimes, 50):0} | {P(ok, 95) - P(directTimes, 95):0} | {P(ok, 99) - P(directTimes, 99):0} |");
        }
        Console.WriteLine();
        Console.WriteLine("| service | baseline MiB | peak MiB | 30 s after MiB | 60 s after MiB |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        for (var i = 0; i < services.Count; i++)
        {
            Console.WriteLine($"| {services[i].Name} | {Mib(baseline[i])} | {Mib(peaks[i])} | {Mib(after30[i])} | {Mib(after60[i])} |");
        }
        await api.StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(10));
        await workers.StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(10));
        return 0;
    }

    private static (Uri Url, ChildProcess Process) StartService(string project, string name, Dictionary<string, string?> settings)
    {
        var port = NativeProcess.FreeTcpPort();
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", project, new DirectoryInfo(AppContext.BaseDirectory).Name, project + ".dll"));
        var process = ChildProcess.Start(new ChildProcessSpec("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll),
            Environment = new Dictionary<string, string?>(settings) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" },
        }, line => { if (line.Contains("fail", StringComparison.OrdinalIgnoreCase)) Console.Error.WriteLine($"{name} | {line}"); });
        return (new Uri($"http://127.0.0.1:{port}"), process);
    }

    private sealed record StreamResult(double FirstTokenMs, string? Error);

    // One chat stream read to its end: an error is a non-200, an `error` event, no `done` event, or the deadline.
    private static async Task<StreamResult> StreamAsync(HttpClient http, Uri apiUrl, string token, Guid conversation, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        double firstToken = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, $"/v1/conversations/{conversation}/messages"))
            {
                Content = JsonContent.Create(new { content = "How is the weather in Lisbon in spring?" }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Accept.ParseAdd("text/event-stream");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (!response.IsSuccessStatusCode)
            {
                return new StreamResult(0, $"HTTP {(int)response.StatusCode}");
            }
            await using var body = await response.Content.ReadAsStreamAsync(cancellationToken);
            using var reader = new StreamReader(body);
            var done = false;
            while (await reader.ReadLineAsync(cancellationToken) is { } line)
            {
                if (firstToken == 0 && line == "event: delta")
                {
                    firstToken = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
                if (line == "event: error")
                {
                    return new StreamResult(firstToken, "error event");
                }
                done |= line == "event: done";
            }
            return done ? new StreamResult(firstToken, null) : new StreamResult(firstToken, "stream ended without done");
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
            return new StreamResult(firstToken, "deadline");
        }
        catch (HttpRequestException ex)
        {
            return new StreamResult(firstToken, ex.GetType().Name + ": " + ex.HttpRequestError);
        }
        catch (IOException ex)
        {
            // A response cut off mid-stream (HttpIOException) is an error of the run, not of the harness.
            return new StreamResult(firstToken, ex.GetType().Name);
        }
    }

    private static async Task<double> DirectAsync(HttpClient http, string providerUrl)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, new Uri($"{providerUrl}/v1/chat/completions"))
        {
            Content = JsonContent.Create(new { model = "bench-model", stream = true, messages = new[] { new { role = "user", content = "How is the weather in Lisbon in spring?" } } }),
        };
        var started = Stopwatch.GetTimestamp();
        using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead);
        response.EnsureSuccessStatusCode();
        await using var body = await response.Content.ReadAsStreamAsync();
        using var reader = new StreamReader(body);
        double? firstToken = null;
        while (await reader.ReadLineAsync() is { } line)
        {
            if (firstToken is null && line.Contains("\"content\"", StringComparison.Ordinal))
            {
                firstToken = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
            }
        }
        return firstToken ?? throw new InvalidOperationException("The provider's stream had no token.");
    }

    private static async Task WaitForIdleQueueAsync(NpgsqlDataSource dataSource, TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            await using var command = dataSource.CreateCommand("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')");
            if ((long)(await command.ExecuteScalarAsync())! == 0)
            {
                return;
            }
            await Task.Delay(500);
        }
        Console.Error.WriteLine($"The job queue was not idle within {timeout}.");
    }

    // Postgres is a process per connection sharing its buffers: PSS splits shared pages among them, so the sum
    // does not count shared_buffers once per backend.
    private static long PssWithChildren(int pid)
    {
        long total = SmapsPss(pid);
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var child) && child != pid && Field($"/proc/{child}/status", "PPid:") == pid)
            {
                total += SmapsPss(child);
            }
        }
        return total;
    }

    private static long SmapsPss(int pid) => Field($"/proc/{pid}/smaps_rollup", "Pss:") * 1024;

    private static long Rss(int pid) => Field($"/proc/{pid}/status", "VmRSS:") * 1024;

    // The first number after "field" on its line (kB for the memory fields); 0 when the process is gone.
    private static long Field(string path, string field)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    var number = line[field.Length..].Trim().Split(' ')[0];
                    return long.Parse(number, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process went away between listing and reading.
        }
        return 0;
    }

    private static double P(List<double> sorted, int percentile) => sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture);
}
