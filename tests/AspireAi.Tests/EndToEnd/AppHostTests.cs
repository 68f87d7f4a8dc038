using System.Net;
using AspireAi.LocalServers;

namespace AspireAi.Tests.EndToEnd;

[Collection(EndToEndCollection.Name)]
public sealed class AppHostTests
{
    private static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(3);

    [Fact]
    public async Task The_AppHost_starts_every_resource_restarts_a_killed_service_and_leaves_nothing_behind()
    {
        await using var host = AppHostProcess.Start();
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };

        await host.WaitUntilAsync(h => h.Output.Contains("all resources healthy", StringComparison.Ordinal), StartTimeout, "all resources healthy");

        var resources = host.Resources();
        Assert.Equal(["postgres", "redis", "migrations", "api", "workers", "web"], resources.Select(r => r.Name));
        Assert.Equal("Finished", host.Find("migrations").State);
        Assert.All(resources.Where(r => r.Name != "migrations"), r =>
        {
            Assert.Equal("Healthy", r.State);
            Assert.True(r.Pid is > 0 && NativeProcess.IsAlive(r.Pid.Value), $"{r.Name} has no live pid");
        });
        foreach (var url in new[] { host.Endpoints.ApiUrl, host.Endpoints.WorkersUrl, host.Endpoints.WebUrl })
        {
            using var health = await http.GetAsync(new Uri(url, "/health"));
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        var pids = resources.Where(r => r.Pid is not null).Select(r => r.Pid!.Value).ToHashSet();

        // A crash of the Api (SIGKILL: no chance to clean up) is followed by a restart and a healthy /health.
        var apiPid = host.Find("api").Pid!.Value;
        Assert.True(NativeProcess.Signal(apiPid, NativeProcess.SigKill));
        await host.WaitUntilAsync(h => h.Find("api") is { State: "Healthy", Restarts: 1 } api && api.Pid != apiPid,
            TimeSpan.FromSeconds(90), "the api to be restarted and healthy");
        using (var health = await http.GetAsync(new Uri(host.Endpoints.ApiUrl, "/health")))
        {
            Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        }
        pids.Add(host.Find("api").Pid!.Value);

        // SIGTERM stops services, then Redis and Postgres, cleanly: exit code 0 and no process left.
        var exitCode = await host.StopAsync(TimeSpan.FromSeconds(90));
        Assert.True(exitCode == 0, $"AppHost exited with {exitCode}\n{host.Output}");
        Assert.All(pids, pid => Assert.False(NativeProcess.IsAlive(pid), $"pid {pid} is still alive\n{host.Output}"));
        Assert.Empty(ProcessesMentioning(host.DataDirectory));
        Assert.All(host.Resources(), r => Assert.Contains(r.State, new[] { "Stopped", "Finished" }));
    }

    [Fact]
    public async Task A_busy_port_fails_start_up_with_a_clear_message_and_a_non_zero_exit()
    {
        using var blocker = new System.Net.Sockets.TcpListener(IPAddress.Loopback, 0);
        blocker.Start();
        var busyPort = ((IPEndPoint)blocker.LocalEndpoint).Port;
        var ports = new AppHostProcess.Ports(busyPort, NativeProcess.FreeTcpPort(), NativeProcess.FreeTcpPort(),
            NativeProcess.FreeTcpPort(), NativeProcess.FreeTcpPort());

        await using var host = AppHostProcess.Start(ports);
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        while (!host.HasExited)
        {
            await Task.Delay(100, cts.Token);
        }

        Assert.NotEqual(0, host.ExitCode);
        Assert.Contains($"api {busyPort}", host.Output, StringComparison.Ordinal);
        Assert.Contains("already in use", host.Output, StringComparison.Ordinal);
    }

    private static List<string> ProcessesMentioning(string text)
    {
        var found = new List<string>();
        foreach (var dir in Directory.GetDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out _))
            {
                continue;
            }
            try
            {
                var cmdline = File.ReadAllText(Path.Combine(dir, "cmdline")).Replace('\0', ' ');
                if (cmdline.Contains(text, StringComparison.Ordinal))
                {
                    found.Add($"{Path.GetFileName(dir)}: {cmdline}");
                }
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return found;
    }
}

/// <summary>End-to-end tests start whole stacks; running them one at a time keeps a 2-core machine responsive.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    public const string Name = "end-to-end";
}
