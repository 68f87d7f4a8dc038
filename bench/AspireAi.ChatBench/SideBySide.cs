using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.LocalServers;

namespace AspireAi.ChatBench;

/// <summary>
/// AspireAi and the Portkey AI gateway measured in one run: the peers' fake OpenAI upstream (50 ms to the first
/// token, 40 tokens 5 ms apart), this one load client, the same concurrency levels, the targets interleaved in ABBA
/// blocks so that drift in the machine's load spreads over all of them. Targets: the upstream directly, through
/// Portkey, and through AspireAi's native chat and its OpenAI-compatible endpoint (both with 20 messages of history,
/// memory and document retrieval, the durable insert before the provider call, the Workers extracting memories).
/// Reports time to first token and what each path adds to the direct one, throughput, 503 refusals (a refused request
/// waits its Retry-After, then the client goes on with its next request), and CPU per request from /proc.
/// </summary>
internal static class SideBySide
{
    private const string Direct = "direct";
    private const string Portkey = "portkey";
    private const string Native = "aspireai native";
    private const string OpenAi = "aspireai /v1/chat/completions";
    private static readonly string[] Targets = [Direct, Portkey, Native, OpenAi];
    private const int WarmupConcurrency = 8;
    private static readonly string[] Processes = ["api", "postgres", "redis", "workers"];

    private sealed record Sample(string Target, double FirstTokenMs, string? Error, bool Refused);

    /// <param name="upstreamEmbeddings">
    /// Embed with the fake upstream's <c>/v1/embeddings</c> (it answers at once) instead of the local MiniLM model, and
    /// extract memories with the upstream too: the turn's cost with every model off the machine.
    /// </param>
    /// <param name="warmup">Requests per path before anything is measured (see the comment where they run); 0 for none.</param>
    /// <param name="serviceEnvironment">
    /// Extra environment of the Api and the Workers only (runtime switches to compare, such as GC modes), so that the
    /// load client and the peers run as in every other run; set last, so it wins over the harness's own settings.
    /// </param>
    /// <param name="blockTurns">
    /// Requests per stream in each measured block. Every block starts all its streams at once, so a burst of
    /// <c>level</c> simultaneous arrivals opens each one: with the default 2, half of a level's samples come from such
    /// a burst; more turns per block weigh the steady state more (and interleave the targets more coarsely).
    /// </param>
    public static async Task<int> RunAsync(string peers, string packages, int[] levels, int[] requests, bool upstreamEmbeddings = false, int warmup = 200,
        IReadOnlyDictionary<string, string?>? serviceEnvironment = null, int blockTurns = 2)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(blockTurns, 1);
        var work = Directory.CreateTempSubdirectory("aspireai-sidebyside-").FullName;
        // The peers' folder is read-only and shared: its scripts run from a copy.
        foreach (var file in new[] { "fake-openai.mjs", "loopback-only.cjs" })
        {
            File.Copy(Path.Combine(peers, file), Path.Combine(work, file));
        }
        var portkeyServer = Path.Combine(packages, "node_modules", "@portkey-ai", "gateway", "build", "start-server.js");
        if (!File.Exists(portkeyServer))
        {
            Console.Error.WriteLine($"Portkey is not installed under {packages}: run `PEERS_DIR={packages} bash {peers}/install.sh` first.");
            return 2;
        }

        var fakePort = NativeProcess.FreeTcpPort();
        await using var fake = ChildProcess.Start(new ChildProcessSpec("node", [Path.Combine(work, "fake-openai.mjs"), fakePort.ToString(CultureInfo.InvariantCulture)])
        {
            WorkingDirectory = work,
        }, _ => { });
        var portkeyPort = NativeProcess.FreeTcpPort();
        await using var portkey = ChildProcess.Start(new ChildProcessSpec("node",
            ["-r", Path.Combine(work, "loopback-only.cjs"), portkeyServer, $"--port={portkeyPort}", "--headless"])
        {
            WorkingDirectory = work,
            Environment = new Dictionary<string, string?> { ["NODE_ENV"] = "production" },
        }, _ => { });
        var upstream = $"http://127.0.0.1:{fakePort}";
        var gateway = $"http://127.0.0.1:{portkeyPort}";

        var shared = new Dictionary<string, string?>();
        if (upstreamEmbeddings)
        {
            // Every model off the machine: the Workers' extraction calls the upstream too (it answers structured prompts
            // with valid JSON), since a service embeds with its own chat provider or offline.
            shared["Llm__Provider"] = "OpenAICompatible";
            shared["Llm__Endpoint"] = $"{upstream}/v1/";
            shared["Llm__ChatModel"] = "fake-model";
            shared["Llm__ApiKey"] = "bench";
            shared["Llm__EmbeddingProvider"] = "OpenAICompatible";
            shared["Llm__EmbeddingModel"] = "fake-embed";
        }
        foreach (var (key, value) in serviceEnvironment ?? new Dictionary<string, string?>())
        {
            shared[key] = value;
            Console.WriteLine($"# the services' environment adds {key}={value}");
        }
        // The peers' fake answers any request that offers tools with a call of the first one, so with the project's
        // tools offered every turn would loop through tool calls (several provider calls) where Portkey forwards one.
        // Tools off keeps the upstream work identical: one provider call per request on every path.
        await using var stack = await BenchStack.StartAsync($"{upstream}/v1/", "fake-model", withWorkers: true,
            new Dictionary<string, string?> { ["Chat__EnableTools"] = "false" }, shared);
        Console.WriteLine($"# embeddings: {(upstreamEmbeddings ? "the fake upstream's /v1/embeddings (answers at once), and the Workers' extraction through the upstream" : "local MiniLM (the default)")}");
        var http = stack.Http;
        await WaitRespondingAsync(http, $"{upstream}/health");
        await WaitRespondingAsync(http, $"{gateway}/");
        var users = await stack.CreateUsersAsync(Math.Max(levels.Max(), WarmupConcurrency));

        var sequence = 0;
        async Task<Sample> OnceAsync(string target)
        {
            var n = Interlocked.Increment(ref sequence);
            // A different question each time: a repeated one would be answered from the query-embedding cache.
            var question = $"Benchmark request {n}: what should I pack for a weekend in Lisbon in spring?";
            // Each turn goes to the next user, so no conversation grows much longer than its seeded history.
            var user = users[n % users.Count];
            using var request = target switch
            {
                Direct => OpenAiRequest($"{upstream}/v1/chat/completions", "sk-fake", question, history: false),
                Portkey => OpenAiRequest($"{gateway}/v1/chat/completions", "sk-fake", question, history: false, portkeyUpstream: $"{upstream}/v1"),
                OpenAi => OpenAiRequest(new Uri(stack.ApiUrl, "/v1/chat/completions").ToString(), user.Token, question, history: true, conversation: user.ConversationId),
                _ => NativeRequest(stack.ApiUrl, user, question),
            };
            return await FirstTokenAsync(http, target, request, target == Native ? "event: delta" : "\"content\":\"");
        }

        // Before anything is measured, every path serves enough turns for the runtimes' tiered compilation to settle
        // (.NET's tiers and PGO in the Api and the Workers, V8's in Portkey): a few hundred methods are compiled again
        // in the first ~20 s of traffic, and at one stream that burst is most of the Api's CPU. The warm-up's own cost
        // is reported apart, as what a freshly started instance pays once.
        var atStart = Cpu(stack, fake, portkey);
        var warmupTurns = 0;
        if (warmup > 0)
        {
            foreach (var target in Targets)
            {
                var results = await RunBlockAsync(WarmupConcurrency, warmup, target, OnceAsync);
                warmupTurns += target is Native or OpenAi ? results.Count(r => r.Error is null && !r.Refused) : 0;
            }
            await stack.WaitForIdleQueueAsync(TimeSpan.FromMinutes(10));
            // What autovacuum does on a server that has run for a few minutes: the tables have statistics, from which
            // the Api chooses the memory search's plan (it looks for them every 15 s until there are some).
            await stack.AnalyzeAsync();
            await Task.Delay(TimeSpan.FromSeconds(16));
        }
        var baseline = Cpu(stack, fake, portkey);
        var pgBaseline = await CommitsAsync(stack);
        await stack.ResetStatementsAsync();
        var turns = 0;
        Console.WriteLine($"# side by side, {Environment.ProcessorCount} cores, upstream TTFT 50 ms + 40 tokens × 5 ms (peers' fake-openai.mjs), {blockTurns} requests per stream per block, load before: {LoadAverage()}");
        for (var l = 0; l < levels.Length; l++)
        {
            var level = levels[l];
            var perTarget = requests[Math.Min(l, requests.Length - 1)];
            // Warm-up at this level (pools, sockets), not timed; its turns cost CPU, so they count as turns.
            foreach (var target in Targets)
            {
                var results = await RunBlockAsync(level, level, target, OnceAsync);
                turns += target is Native or OpenAi ? results.Count(r => r.Error is null && !r.Refused) : 0;
            }
            var samples = Targets.ToDictionary(t => t, _ => new List<Sample>());
            var seconds = Targets.ToDictionary(t => t, _ => 0.0);
            var cpu = Targets.ToDictionary(t => t, _ => new Dictionary<string, double>());
            var block = Math.Max(40, blockTurns * level);
            var order = Targets.Concat(Targets.Reverse()).ToArray(); // ABCD DCBA
            for (var round = 0; samples.Values.Any(s => s.Count < perTarget); round++)
            {
                foreach (var target in order)
                {
                    var remaining = perTarget - samples[target].Count;
                    if (remaining <= 0)
                    {
                        continue;
                    }
                    var before = Cpu(stack, fake, portkey);
                    var started = Stopwatch.GetTimestamp();
                    var results = await RunBlockAsync(level, Math.Min(block, remaining), target, OnceAsync);
                    seconds[target] += Stopwatch.GetElapsedTime(started).TotalSeconds;
                    foreach (var (process, ms) in Cpu(stack, fake, portkey))
                    {
                        cpu[target][process] = cpu[target].GetValueOrDefault(process) + ms - before[process];
                    }
                    samples[target].AddRange(results);
                    if (target is Native or OpenAi)
                    {
                        turns += results.Count(r => r.Error is null && !r.Refused);
                    }
                }
            }
            Report(level, samples, seconds, cpu);
        }

        // The turns' follow-up work (memory extraction in the Workers) belongs to their cost.
        await stack.WaitForIdleQueueAsync(TimeSpan.FromMinutes(10));
        var total = Cpu(stack, fake, portkey);
        var pgAfter = await CommitsAsync(stack);
        Console.WriteLine();
        Console.WriteLine($"# AspireAi's cost per chat turn over the whole run after the warm-up ({turns} turns answered, the levels' warm-up turns included; extraction jobs drained), load after: {LoadAverage()}");
        Console.WriteLine("| process | CPU ms per turn |");
        Console.WriteLine("|---|---:|");
        var sum = 0.0;
        foreach (var process in Processes)
        {
            var perTurn = (total[process] - baseline[process]) / Math.Max(1, turns);
            sum += perTurn;
            Console.WriteLine($"| {process} | {perTurn:0.00} |");
        }
        Console.WriteLine($"| **sum** | **{sum:0.00}** |");
        if (warmupTurns > 0)
        {
            var once = Processes.Select(p => (p, ms: (baseline[p] - atStart[p]) / warmupTurns)).ToList();
            Console.WriteLine($"The warm-up before it ({warmupTurns} turns right after start, extraction drained) cost {once.Sum(x => x.ms):0.00} ms per turn: " +
                string.Join(", ", once.Select(x => $"{x.p} {x.ms:0.00}")) + ".");
        }
        var turnCount = (double)Math.Max(1, turns);
        Console.WriteLine($"Postgres transactions per turn: {(pgAfter - pgBaseline) / turnCount:0.0}, statements per turn: {await stack.StatementCountAsync() / turnCount:0.0} (the whole database: Api, Workers and this harness's few queries; a statement outside a transaction counts as one)");
        Console.WriteLine();
        var (planMs, execMs) = await stack.StatementTimeAsync();
        Console.WriteLine($"Statement time per turn: planning {planMs / turnCount:0.00} ms, execution {execMs / turnCount:0.00} ms (top-level statements; commits and the protocol are outside both)");
        Console.WriteLine();
        Console.WriteLine("| statement (pg_stat_statements, by planning + execution time) | calls per turn | plans per call | mean ms | ms per turn | of it planning |");
        Console.WriteLine("|---|---:|---:|---:|---:|---:|");
        var statements = await stack.StatementsAsync(200);
        // Every statement's whole text beside the services' logs: the table cuts them to tell them apart at a glance.
        await File.WriteAllLinesAsync(stack.WorkFile("statements.txt"), statements.Select(s =>
            $"{s.Calls / turnCount:0.00} calls/turn, {s.Plans / (double)Math.Max(1, s.Calls):0.00} plans/call, {s.TotalMs / Math.Max(1, s.Calls):0.000} ms mean, {s.TotalMs / turnCount:0.000} ms/turn\n{s.Query}\n"));
        foreach (var (query, calls, plans, totalMs, statementPlanMs) in statements.Take(25))
        {
            var shown = query.Length > 110 ? query[..110] + "…" : query;
            Console.WriteLine($"| `{shown.Replace("|", "\\|", StringComparison.Ordinal)}` | {calls / turnCount:0.00} | {plans / (double)Math.Max(1, calls):0.00} | {totalMs / Math.Max(1, calls):0.000} | {totalMs / turnCount:0.000} | {statementPlanMs / Math.Max(totalMs, 1e-9):0%} |");
        }
        return 0;
    }

    private static HttpRequestMessage OpenAiRequest(string url, string key, string question, bool history, Guid? conversation = null, string? portkeyUpstream = null)
    {
        var messages = new List<object>();
        if (history)
        {
            // The same 20 messages the native conversations hold: this client keeps its own history.
            for (var i = 1; i <= 20; i++)
            {
                messages.Add(new { role = i % 2 == 1 ? "user" : "assistant", content = string.Concat(Enumerable.Repeat("Some earlier message text. ", 8)) });
            }
        }
        messages.Add(new { role = "user", content = question });
        var request = new HttpRequestMessage(HttpMethod.Post, url)
        {
            Content = JsonContent.Create(new { model = "fake-model", stream = true, stream_options = new { include_usage = true }, max_tokens = 64, messages }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", key);
        if (portkeyUpstream is not null)
        {
            request.Headers.Add("x-portkey-provider", "openai");
            request.Headers.Add("x-portkey-custom-host", portkeyUpstream);
        }
        if (conversation is { } id)
        {
            request.Headers.Add("X-AspireAi-Conversation", id.ToString());
        }
        return request;
    }

    private static HttpRequestMessage NativeRequest(Uri api, BenchUser user, string question)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, new Uri(api, $"/v1/conversations/{user.ConversationId}/messages"))
        {
            Content = JsonContent.Create(new { content = question }),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", user.Token);
        request.Headers.Accept.ParseAdd("text/event-stream");
        return request;
    }

    // One stream read to its end. A 503 is a refusal: the client waits its Retry-After before its next request.
    private static async Task<Sample> FirstTokenAsync(HttpClient http, string target, HttpRequestMessage request, string marker)
    {
        var started = Stopwatch.GetTimestamp();
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, timeout.Token);
            if (response.StatusCode == HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait)
            {
                await Task.Delay(wait, timeout.Token);
                return new Sample(target, 0, null, Refused: true);
            }
            if (!response.IsSuccessStatusCode)
            {
                return new Sample(target, 0, $"HTTP {(int)response.StatusCode}", false);
            }
            await using var body = await response.Content.ReadAsStreamAsync(timeout.Token);
            using var reader = new StreamReader(body);
            double firstToken = 0;
            var ended = false;
            while (await reader.ReadLineAsync(timeout.Token) is { } line)
            {
                if (firstToken == 0 && line.Contains(marker, StringComparison.Ordinal) && !line.Contains("\"content\":\"\"", StringComparison.Ordinal))
                {
                    firstToken = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                }
                if (line is "event: error")
                {
                    return new Sample(target, firstToken, "error event", false);
                }
                ended |= line is "event: done" or "data: [DONE]";
            }
            return ended && firstToken > 0 ? new Sample(target, firstToken, null, false) : new Sample(target, firstToken, "stream ended early", false);
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or OperationCanceledException)
        {
            return new Sample(target, 0, ex.GetType().Name, false);
        }
    }

    private static async Task<List<Sample>> RunBlockAsync(int concurrency, int count, string target, Func<string, Task<Sample>> once)
    {
        var results = new List<Sample>(count);
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, concurrency).Select(async _ =>
        {
            while (Interlocked.Increment(ref next) < count)
            {
                var sample = await once(target);
                lock (results)
                {
                    results.Add(sample);
                }
            }
        }));
        return results;
    }

    private static void Report(int level, Dictionary<string, List<Sample>> samples, Dictionary<string, double> seconds,
        Dictionary<string, Dictionary<string, double>> cpu)
    {
        var direct = Answered(samples[Direct]);
        Console.WriteLine();
        Console.WriteLine($"## {level} concurrent streams");
        Console.WriteLine("| path | TTFT p50 / p95 / p99 ms | added p50 / p95 / p99 ms | answered/s | refused (503) | errors | CPU ms per answered request |");
        Console.WriteLine("|---|---|---|---:|---:|---:|---|");
        foreach (var target in Targets)
        {
            var answered = Answered(samples[target]);
            var refused = samples[target].Count(s => s.Refused);
            var errors = samples[target].Where(s => s.Error is not null).GroupBy(s => s.Error).Select(g => $"{g.Count()} × {g.Key}").ToList();
            var ttft = answered.Count == 0 ? "–" : $"{BenchData.P(answered, 50):0.0} / {BenchData.P(answered, 95):0.0} / {BenchData.P(answered, 99):0.0}";
            var added = target == Direct || answered.Count == 0 ? "–"
                : $"{BenchData.P(answered, 50) - BenchData.P(direct, 50):+0.0;-0.0} / {BenchData.P(answered, 95) - BenchData.P(direct, 95):+0.0;-0.0} / {BenchData.P(answered, 99) - BenchData.P(direct, 99):+0.0;-0.0}";
            // The serving processes only; the Workers' extraction lags behind its turns and is counted over the run.
            string[] serving = target switch { Direct => [], Portkey => ["portkey"], _ => ["api", "postgres", "redis"] };
            var perRequest = serving.Length == 0 ? "–" : string.Join(", ", serving
                .Select(p => $"{p} {cpu[target].GetValueOrDefault(p) / Math.Max(1, answered.Count):0.0}"));
            Console.WriteLine($"| {target} | {ttft} | {added} | {answered.Count / seconds[target]:0} | {refused} | {(errors.Count == 0 ? "0" : string.Join("; ", errors))} | {perRequest} |");
        }
    }

    private static List<double> Answered(List<Sample> samples) =>
        [.. samples.Where(s => s.Error is null && !s.Refused).Select(s => s.FirstTokenMs).Order()];

    private static Dictionary<string, double> Cpu(BenchStack stack, ChildProcess fake, ChildProcess portkey) => new()
    {
        ["api"] = ProcStats.CpuMilliseconds(stack.Api.Pid),
        ["postgres"] = stack.Postgres.Pid is { } pg ? ProcStats.CpuMilliseconds(pg, withChildren: true) : 0,
        ["redis"] = stack.Redis.Pid is { } redis ? ProcStats.CpuMilliseconds(redis) : 0,
        ["workers"] = stack.Workers is { } workers ? ProcStats.CpuMilliseconds(workers.Pid) : 0,
        ["portkey"] = ProcStats.CpuMilliseconds(portkey.Pid),
        ["upstream"] = ProcStats.CpuMilliseconds(fake.Pid),
        ["load client"] = ProcStats.CpuMilliseconds(Environment.ProcessId),
    };

    private static async Task<long> CommitsAsync(BenchStack stack)
    {
        await using var command = stack.DataSource.CreateCommand("SELECT xact_commit FROM pg_stat_database WHERE datname = current_database()");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static async Task WaitRespondingAsync(HttpClient http, string url)
    {
        for (var i = 0; i < 300; i++)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(url));
                return;
            }
            catch (HttpRequestException)
            {
                await Task.Delay(100);
            }
        }
        throw new TimeoutException($"{url} did not answer.");
    }

    private static string LoadAverage() => File.ReadAllText("/proc/loadavg").Split(' ').Take(3) is var parts ? string.Join(", ", parts) : "";
}
