using System.Diagnostics;
using System.Net;
using System.Text.Json;
using AspireAi.LocalServers;
using AspireAi.Tests.Infrastructure;
using Microsoft.Playwright;

namespace AspireAi.Tests.EndToEnd;

/// <summary>
/// The AppHost as an operator runs it (a process, dashboard on), on free ports: the dashboard shows the resources,
/// its telemetry API has one chat's trace across web, api, postgres and the Workers' job, and SIGTERM stops
/// everything without leaving a process behind.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class DashboardTests
{
    [Fact]
    public async Task One_chat_is_one_trace_across_web_api_postgres_and_the_workers_and_SIGTERM_leaves_nothing_running()
    {
        await using var host = AppHostProcess.Start();
        await host.WaitForHealthAsync(host.WebUrl);
        await host.WaitForHealthAsync(host.WorkersUrl);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await BrowserTests.LaunchAsync(playwright);
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = host.WebUrl.ToString(), ViewportSize = new() { Width = 1400, Height = 820 } });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync("/signin");
        await page.GetByTestId("signin-email").FillAsync("admin@aspireai.local");
        await page.GetByTestId("signin-password").FillAsync("aspireai-admin-dev");
        await page.GetByTestId("signin-submit").ClickAsync();
        await page.GetByTestId("new-conversation").ClickAsync();
        await page.GetByTestId("message-input").FillAsync("I moved to Porto last spring.");
        await page.GetByTestId("send").ClickAsync();
        var badge = page.GetByTestId("assistant-message").Last.GetByTestId("model-badge");
        await Assertions.Expect(badge).ToHaveAttributeAsync("title", new System.Text.RegularExpressions.Regex("^Trace id [0-9a-f]{32}$"));
        var traceId = (await badge.GetAttributeAsync("title"))!["Trace id ".Length..];

        // The dashboard receives spans in batches: ask until the Workers' extraction has joined the trace.
        using var http = new HttpClient { BaseAddress = host.DashboardUrl };
        Dictionary<string, HashSet<string>> spans = [];
        var deadline = DateTime.UtcNow.AddSeconds(60);
        while (!(spans.TryGetValue("workers", out var w) && w.Any(s => s.StartsWith("process memory.extract", StringComparison.Ordinal))
            && spans.ContainsKey("web") && spans.ContainsKey("api")))
        {
            Assert.True(DateTime.UtcNow < deadline, $"trace {traceId} never had spans from web, api and workers: {Describe(spans)}");
            await Task.Delay(1000);
            using var response = await http.GetAsync(new Uri("/api/telemetry/traces", UriKind.Relative));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
            spans = SpansOf(JsonDocument.Parse(await response.Content.ReadAsStringAsync()), traceId);
        }
        // The Api enqueued the extraction in the chat's own transaction; the job's span continues that trace.
        Assert.Contains(spans["api"], s => s.StartsWith("create memory.extract", StringComparison.Ordinal));
        Assert.Contains(spans["api"], s => s.StartsWith("postgresql", StringComparison.Ordinal));
        Assert.Contains(spans["web"], s => s.Contains("System.Net.Http", StringComparison.Ordinal));

        // The picture in the README, taken here so it shows what this build's dashboard really shows.
        var dashboard = await browser.NewPageAsync(new BrowserNewPageOptions { ViewportSize = new() { Width = 1400, Height = 820 } });
        await dashboard.GotoAsync(host.DashboardUrl.ToString());
        var workers = dashboard.GetByText("workers", new() { Exact = true }).First;
        try
        {
            await Assertions.Expect(workers).ToBeVisibleAsync(new() { Timeout = 30_000 });
        }
        catch (PlaywrightException)
        {
            // Under load the dashboard's page can fail its first render (0 resources, and its own error bar offering
            // "Reload"; seen once in CI): reload once, as a person would. A second failure fails the test.
            Assert.True(await dashboard.GetByText("An unhandled error has occurred.").IsVisibleAsync(), "the dashboard lists no workers resource, and shows no error");
            await dashboard.ReloadAsync();
            await Assertions.Expect(workers).ToBeVisibleAsync(new() { Timeout = 30_000 });
        }
        await Assertions.Expect(dashboard.GetByText("postgres-init", new() { Exact = true }).First).ToBeVisibleAsync();
        await dashboard.WaitForTimeoutAsync(1500);
        await dashboard.ScreenshotAsync(new PageScreenshotOptions { Path = Path.Combine(ArtifactsDirectory(), "screenshots", "dashboard.png") });

        var pids = host.StartedPids();
        foreach (var program in (string[])["postgres", "redis-server", "AspireAi.Api", "AspireAi.Workers", "AspireAi.Web"])
        {
            Assert.Contains(pids, pid => Command(pid).Contains(program, StringComparison.Ordinal));
        }
        var exitCode = await host.StopAsync(TimeSpan.FromSeconds(90));
        Assert.True(exitCode == 0, $"AppHost exited with {exitCode}\n{host.Output}");
        // DCP finishes stopping its children after the AppHost has gone; give it the time its monitor takes.
        var stopDeadline = DateTime.UtcNow.AddSeconds(30);
        while (pids.Any(NativeProcess.IsAlive) && DateTime.UtcNow < stopDeadline)
        {
            await Task.Delay(250);
        }
        Assert.All(pids, pid => Assert.False(NativeProcess.IsAlive(pid), $"pid {pid} ({Command(pid)}) is still running"));
    }

    // service name -> "span name (scope)" for every span of the trace.
    private static Dictionary<string, HashSet<string>> SpansOf(JsonDocument document, string traceId)
    {
        var result = new Dictionary<string, HashSet<string>>(StringComparer.Ordinal);
        foreach (var resource in document.RootElement.GetProperty("data").GetProperty("resourceSpans").EnumerateArray())
        {
            var service = resource.GetProperty("resource").GetProperty("attributes").EnumerateArray()
                .First(a => a.GetProperty("key").GetString() == "service.name").GetProperty("value").GetProperty("stringValue").GetString()!;
            foreach (var scope in resource.GetProperty("scopeSpans").EnumerateArray())
            {
                var scopeName = scope.GetProperty("scope").GetProperty("name").GetString();
                foreach (var span in scope.GetProperty("spans").EnumerateArray().Where(s => s.GetProperty("traceId").GetString() == traceId))
                {
                    var name = span.GetProperty("name").GetString();
                    var system = span.TryGetProperty("attributes", out var attributes)
                        ? attributes.EnumerateArray().FirstOrDefault(a => a.GetProperty("key").GetString() == "db.system.name")
                        : default;
                    var label = system.ValueKind == JsonValueKind.Object ? $"{system.GetProperty("value").GetProperty("stringValue").GetString()} {name}" : $"{name} ({scopeName})";
                    (result.TryGetValue(service, out var set) ? set : result[service] = []).Add(label);
                }
            }
        }
        return result;
    }

    private static string Describe(Dictionary<string, HashSet<string>> spans) =>
        string.Join("; ", spans.Select(s => $"{s.Key}: {string.Join(", ", s.Value.Take(8))}"));

    private static string Command(int pid)
    {
        try { return File.ReadAllText($"/proc/{pid}/cmdline").Replace('\0', ' '); }
        catch (IOException) { return "gone"; }
    }

    // artifacts/ at the repository root; the tests run from artifacts/bin/AspireAi.Tests/<configuration>/.
    private static string ArtifactsDirectory() => Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", ".."));

    /// <summary>The built AppHost started as `dotnet run` would, with the dashboard on free ports.</summary>
    private sealed class AppHostProcess : IAsyncDisposable
    {
        private readonly Process _process;
        private readonly List<string> _output = [];
        private readonly int _redisPort;

        private AppHostProcess(Process process, string dataDirectory, int dashboard, int api, int workers, int web, int redis)
        {
            _process = process;
            DataDirectory = dataDirectory;
            _redisPort = redis;
            DashboardUrl = new Uri($"http://127.0.0.1:{dashboard}");
            ApiUrl = new Uri($"http://127.0.0.1:{api}");
            WorkersUrl = new Uri($"http://127.0.0.1:{workers}");
            WebUrl = new Uri($"http://127.0.0.1:{web}");
        }

        public string DataDirectory { get; }
        public Uri DashboardUrl { get; }
        public Uri ApiUrl { get; }
        public Uri WorkersUrl { get; }
        public Uri WebUrl { get; }

        public string Output
        {
            get { lock (_output) { return string.Join('\n', _output); } }
        }

        public static AppHostProcess Start()
        {
            int dashboard = NativeProcess.FreeTcpPort(), api = NativeProcess.FreeTcpPort(), workers = NativeProcess.FreeTcpPort(),
                web = NativeProcess.FreeTcpPort(), redis = NativeProcess.FreeTcpPort();
            var appHost = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "AspireAi.AppHost",
                new DirectoryInfo(AppContext.BaseDirectory).Name, "AspireAi.AppHost.dll"));
            var startInfo = new ProcessStartInfo("dotnet")
            {
                // dotnet run starts the AppHost in its project folder, where its appsettings*.json are read from.
                WorkingDirectory = Path.GetFullPath(Path.Combine(ArtifactsDirectory(), "..", "AppHost")),
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
                Environment =
                {
                    // What AppHost/Properties/launchSettings.json sets, on free ports.
                    ["DOTNET_ENVIRONMENT"] = "Development",
                    ["ASPNETCORE_ENVIRONMENT"] = "Development",
                    ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{dashboard}",
                    ["ASPIRE_ALLOW_UNSECURED_TRANSPORT"] = "true",
                    ["ASPIRE_DASHBOARD_UNSECURED_ALLOW_ANONYMOUS"] = "true",
                    ["ASPIRE_DASHBOARD_OTLP_ENDPOINT_URL"] = $"http://127.0.0.1:{NativeProcess.FreeTcpPort()}",
                    ["ASPIRE_DASHBOARD_OTLP_HTTP_ENDPOINT_URL"] = $"http://127.0.0.1:{NativeProcess.FreeTcpPort()}",
                    ["ASPIRE_RESOURCE_SERVICE_ENDPOINT_URL"] = $"http://127.0.0.1:{NativeProcess.FreeTcpPort()}",
                    ["AppHost__Durable"] = "false",
                },
            };
            var dataDirectory = TestServers.TempDirectory("dashboard");
            foreach (var arg in (string[])[appHost, "--data-dir", dataDirectory,
                "--api-port", $"{api}", "--workers-port", $"{workers}", "--web-port", $"{web}",
                "--postgres-port", $"{NativeProcess.FreeTcpPort()}", "--redis-port", $"{redis}"])
            {
                startInfo.ArgumentList.Add(arg);
            }
            var process = Process.Start(startInfo)!;
            var host = new AppHostProcess(process, dataDirectory, dashboard, api, workers, web, redis);
            process.OutputDataReceived += (_, e) => host.Append(e.Data);
            process.ErrorDataReceived += (_, e) => host.Append(e.Data);
            process.BeginOutputReadLine();
            process.BeginErrorReadLine();
            return host;
        }

        public async Task WaitForHealthAsync(Uri service)
        {
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(5) };
            var deadline = DateTime.UtcNow + AspireStack.StartTimeout;
            while (true)
            {
                Assert.False(_process.HasExited, $"AppHost exited ({(_process.HasExited ? _process.ExitCode : 0)})\n{Output}");
                Assert.True(DateTime.UtcNow < deadline, $"{service} not healthy in time\n{Output}");
                try
                {
                    using var health = await http.GetAsync(new Uri(service, "/health"));
                    if (health.StatusCode == HttpStatusCode.OK)
                    {
                        return;
                    }
                }
                catch (Exception ex) when (ex is HttpRequestException or TaskCanceledException)
                {
                    // Not listening yet.
                }
                await Task.Delay(500);
            }
        }

        /// <summary>
        /// The processes this AppHost started: DCP runs them detached from it, so they are found by what is theirs
        /// alone: the data directory (Postgres), Redis's port, or a service's port in its environment.
        /// </summary>
        public List<int> StartedPids()
        {
            // Redis renames its process to "redis-server 127.0.0.1:<port>".
            string[] marks = [DataDirectory, $"127.0.0.1:{_redisPort}", $":{ApiUrl.Port}", $":{WorkersUrl.Port}", $":{WebUrl.Port}"];
            var found = new List<int>();
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
            {
                if (!int.TryParse(Path.GetFileName(dir), out var pid) || pid == Environment.ProcessId || pid == _process.Id)
                {
                    continue;
                }
                try
                {
                    var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline"));
                    var urls = File.ReadAllText(Path.Combine(dir, "environ")).Split('\0')
                        .Where(v => v.StartsWith("ASPNETCORE_URLS=", StringComparison.Ordinal));
                    if (marks.Any(m => cmdline.Contains(m, StringComparison.Ordinal)) ||
                        urls.Any(u => marks.Skip(2).Any(m => u.EndsWith(m, StringComparison.Ordinal))))
                    {
                        found.Add(pid);
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    // The process ended meanwhile.
                }
            }
            return found;
        }

        public async Task<int> StopAsync(TimeSpan timeout)
        {
            if (!_process.HasExited)
            {
                NativeProcess.Signal(_process.Id, NativeProcess.SigTerm);
            }
            using var cts = new CancellationTokenSource(timeout);
            await _process.WaitForExitAsync(cts.Token);
            return _process.ExitCode;
        }

        public async ValueTask DisposeAsync()
        {
            if (!_process.HasExited)
            {
                try
                {
                    await StopAsync(TimeSpan.FromSeconds(60));
                }
                catch (OperationCanceledException)
                {
                    _process.Kill(entireProcessTree: true);
                }
            }
            _process.Dispose();
        }

        private void Append(string? line)
        {
            if (line is not null)
            {
                lock (_output) { _output.Add(line); }
            }
        }
    }
}
