using System.Diagnostics;
using System.Globalization;
using System.Net.Http.Headers;
using System.Net.Http.Json;

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
    private static int _questions;

    public static async Task<int> RunAsync(int streams, TimeSpan deadline)
    {
        await using var provider = await FakeProvider.StartAsync(AnswerTime);
        var providerUrl = provider.Urls.First();
        await using var stack = await BenchStack.StartAsync($"{providerUrl}/v1/", "bench-model", withWorkers: true);
        var (http, apiUrl, api, workers, postgres, redis) = (stack.Http, stack.ApiUrl, stack.Api, stack.Workers!, stack.Postgres, stack.Redis);
        var users = await stack.CreateUsersAsync(streams);
        var tokens = users.Select(u => u.Token).ToList();
        var conversations = users.Select(u => u.ConversationId).ToList();

        // Warm-up (JIT, pools), then let the memory-extraction jobs it caused finish before the baseline.
        for (var i = 0; i < 10; i++)
        {
            await TurnAsync(http, apiUrl, tokens[i], conversations[i], CancellationToken.None);
        }
        await stack.WaitForIdleQueueAsync(TimeSpan.FromMinutes(2));
        await Task.Delay(TimeSpan.FromSeconds(5));
        var services = new List<(string Name, Func<long> Bytes)>
        {
            ("api", () => ProcStats.Rss(api.Pid)),
            ("workers", () => ProcStats.Rss(workers.Pid)),
            ("postgres (PSS of all its processes)", () => postgres.Pid is { } pid ? ProcStats.PssWithChildren(pid) : 0),
            ("redis", () => redis.Pid is { } pid ? ProcStats.Rss(pid) : 0),
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
        var turns = await Task.WhenAll(Enumerable.Range(0, streams).Select(i => TurnAsync(http, apiUrl, tokens[i], conversations[i], stop.Token)));
        var results = turns.Select(t => t.Stream).ToList();
        var wall = Stopwatch.GetElapsedTime(started);
        // The Workers' share of the load (memory extraction of every answer) comes after the streams.
        await stack.WaitForIdleQueueAsync(TimeSpan.FromMinutes(5));
        await sampling.CancelAsync();
        await sampler.ContinueWith(_ => { }, TaskScheduler.Default);
        await Task.Delay(TimeSpan.FromSeconds(30));
        var after30 = services.Select(s => s.Bytes()).ToArray();
        await Task.Delay(TimeSpan.FromSeconds(30));
        var after60 = services.Select(s => s.Bytes()).ToArray();

        var ok = results.Where(r => r.Error is null).Select(r => r.FirstTokenMs).Order().ToList();
        var okSinceFirstTry = turns.Where(t => t.Stream.Error is null).Select(t => t.SinceFirstTryMs).Order().ToList();
        var directTimes = direct.Order().ToList();
        Console.WriteLine($"# {streams} concurrent streams, provider {AnswerTime.TotalSeconds:0} s per answer, {Environment.ProcessorCount} cores, wall {wall.TotalSeconds:0.0} s");
        Console.WriteLine($"errors: {results.Count(r => r.Error is not null)} of {streams}");
        Console.WriteLine($"refused with 503 + Retry-After before being admitted: {turns.Count(t => t.Refusals > 0)} turns, {turns.Sum(t => t.Refusals)} refusals in all (retried after the wait)");
        foreach (var error in results.Where(r => r.Error is not null).GroupBy(r => r.Error))
        {
            Console.WriteLine($"  {error.Count()} × {error.Key}");
        }
        Console.WriteLine();
        Console.WriteLine("| time to first token | p50 ms | p95 ms | p99 ms |");
        Console.WriteLine("|---|---:|---:|---:|");
        Console.WriteLine($"| direct to provider | {BenchData.P(directTimes, 50):0} | {BenchData.P(directTimes, 95):0} | {BenchData.P(directTimes, 99):0} |");
        if (ok.Count > 0)
        {
            Console.WriteLine($"| through the Api | {BenchData.P(ok, 50):0} | {BenchData.P(ok, 95):0} | {BenchData.P(ok, 99):0} |");
            Console.WriteLine($"| **added by the Api** (admitted request) | {BenchData.P(ok, 50) - BenchData.P(directTimes, 50):0} | {BenchData.P(ok, 95) - BenchData.P(directTimes, 95):0} | {BenchData.P(ok, 99) - BenchData.P(directTimes, 99):0} |");
            Console.WriteLine($"| user's wait: first try to first token, retries included | {BenchData.P(okSinceFirstTry, 50):0} | {BenchData.P(okSinceFirstTry, 95):0} | {BenchData.P(okSinceFirstTry, 99):0} |");
        }
        Console.WriteLine();
        Console.WriteLine("| service | baseline MiB | peak MiB | 30 s after MiB | 60 s after MiB |");
        Console.WriteLine("|---|---:|---:|---:|---:|");
        for (var i = 0; i < services.Count; i++)
        {
            Console.WriteLine($"| {services[i].Name} | {Mib(baseline[i])} | {Mib(peaks[i])} | {Mib(after30[i])} | {Mib(after60[i])} |");
        }
        return 0;
    }

    /// <param name="FirstTokenMs">From sending the admitted request to its first token.</param>
    /// <param name="SentAt">When the admitted request was sent (a Stopwatch timestamp).</param>
    /// <param name="RetryAfter">Set on a 503 refusal: the wait the Api asked for.</param>
    private sealed record StreamResult(double FirstTokenMs, string? Error, long SentAt = 0, TimeSpan? RetryAfter = null);

    /// <param name="SinceFirstTryMs">From the user's first try to the first token, Retry-After waits included.</param>
    private sealed record TurnResult(StreamResult Stream, int Refusals, double SinceFirstTryMs);

    /// <summary>One user's turn, as a well-behaved client makes it: a 503 with Retry-After is retried after the wait.</summary>
    private static async Task<TurnResult> TurnAsync(HttpClient http, Uri apiUrl, string token, Guid conversation, CancellationToken cancellationToken)
    {
        var firstTry = Stopwatch.GetTimestamp();
        for (var refusals = 0; ; refusals++)
        {
            var result = await StreamAsync(http, apiUrl, token, conversation, cancellationToken);
            if (result.RetryAfter is not { } wait)
            {
                var since = Stopwatch.GetElapsedTime(firstTry, result.SentAt).TotalMilliseconds + result.FirstTokenMs;
                return new TurnResult(result, refusals, since);
            }
            try
            {
                await Task.Delay(wait, cancellationToken);
            }
            catch (OperationCanceledException)
            {
                return new TurnResult(new StreamResult(0, "deadline"), refusals + 1, 0);
            }
        }
    }

    // One chat stream read to its end: an error is a non-200, an `error` event, no `done` event, or the deadline.
    private static async Task<StreamResult> StreamAsync(HttpClient http, Uri apiUrl, string token, Guid conversation, CancellationToken cancellationToken)
    {
        var started = Stopwatch.GetTimestamp();
        double firstToken = 0;
        try
        {
            using var request = new HttpRequestMessage(HttpMethod.Post, new Uri(apiUrl, $"/v1/conversations/{conversation}/messages"))
            {
                // A different question each time: a repeated one would be answered from the query-embedding cache.
                Content = JsonContent.Create(new { content = $"How is the weather in Lisbon in spring? (question {Interlocked.Increment(ref _questions)})" }),
            };
            request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            request.Headers.Accept.ParseAdd("text/event-stream");
            using var response = await http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, cancellationToken);
            if (response.StatusCode == System.Net.HttpStatusCode.ServiceUnavailable && response.Headers.RetryAfter?.Delta is { } wait)
            {
                return new StreamResult(0, null, started, wait);
            }
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
            return new StreamResult(firstToken, done ? null : "stream ended without done", started);
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

    private static string Mib(long bytes) => (bytes / (1024.0 * 1024)).ToString("0", CultureInfo.InvariantCulture);
}
