using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AspireAi.LocalServers;
using AspireAi.ServiceDefaults;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.EndToEnd;

/// <summary>
/// The real app model (postgres, redis, migrator, api, workers, web) started in process with
/// Aspire.Hosting.Testing, on free ports and a temporary data directory, with throw-away (non-durable) servers.
/// </summary>
public sealed class AspireStack : IAsyncDisposable
{
    public static readonly TimeSpan StartTimeout = TimeSpan.FromMinutes(4);

    private AspireStack(DistributedApplication app, string dataDirectory, int api, int workers, int web)
    {
        App = app;
        DataDirectory = dataDirectory;
        ApiUrl = new Uri($"http://127.0.0.1:{api}");
        WorkersUrl = new Uri($"http://127.0.0.1:{workers}");
        WebUrl = new Uri($"http://127.0.0.1:{web}");
    }

    public DistributedApplication App { get; }
    public string DataDirectory { get; }
    public Uri ApiUrl { get; }
    public Uri WorkersUrl { get; }
    public Uri WebUrl { get; }

    /// <param name="settings">Extra AppHost configuration, e.g. <c>Llm:Offline:TokenDelayMs</c> (passed on to the services).</param>
    public static async Task<AspireStack> StartAsync(IReadOnlyDictionary<string, string>? settings = null)
    {
        int api = NativeProcess.FreeTcpPort(), workers = NativeProcess.FreeTcpPort(), web = NativeProcess.FreeTcpPort();
        var dataDirectory = TestServers.TempDirectory("aspire");
        List<string> args =
        [
            $"--AppHost:DataDirectory={dataDirectory}",
            "--AppHost:Durable=false",
            $"--AppHost:ApiPort={api}",
            $"--AppHost:WorkersPort={workers}",
            $"--AppHost:WebPort={web}",
            $"--AppHost:PostgresPort={NativeProcess.FreeTcpPort()}",
            $"--AppHost:RedisPort={NativeProcess.FreeTcpPort()}",
        ];
        args.AddRange((settings ?? new Dictionary<string, string>()).Select(s => $"--{s.Key}={s.Value}"));

        var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AspireAi_AppHost>([.. args]);
        var app = await builder.BuildAsync();
        var stack = new AspireStack(app, dataDirectory, api, workers, web);
        try
        {
            using var cts = new CancellationTokenSource(StartTimeout);
            await app.StartAsync(cts.Token);
            foreach (var name in (string[])[ResourceNames.Api, ResourceNames.Workers, ResourceNames.Web])
            {
                await app.ResourceNotifications.WaitForResourceHealthyAsync(name, cts.Token);
            }
            return stack;
        }
        catch
        {
            await stack.DisposeAsync();
            throw;
        }
    }

    /// <summary>
    /// The process that does the resource's work: the executable DCP started, or for a project the service
    /// process under the <c>dotnet run</c> DCP starts it with.
    /// </summary>
    public int Pid(string resource)
    {
        Assert.True(App.ResourceNotifications.TryGetCurrentState(resource, out var current), $"no state for {resource}");
        var value = current.Snapshot.Properties.FirstOrDefault(p => p.Name == "executable.pid")?.Value;
        var pid = Convert.ToInt32(value, System.Globalization.CultureInfo.InvariantCulture);
        return ChildOf(pid) ?? pid;
    }

    private static int? ChildOf(int parent)
    {
        foreach (var dir in Directory.EnumerateDirectories("/proc"))
        {
            try
            {
                // /proc/<pid>/stat: "pid (comm) state ppid ..."; comm may hold spaces, so read after the last ')'.
                var stat = File.ReadAllText(Path.Combine(dir, "stat"));
                var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
                if (int.Parse(fields[1], System.Globalization.CultureInfo.InvariantCulture) == parent)
                {
                    return int.Parse(Path.GetFileName(dir), System.Globalization.CultureInfo.InvariantCulture);
                }
            }
            catch (Exception ex) when (ex is IOException or FormatException or UnauthorizedAccessException)
            {
                // Not a process directory, or the process ended meanwhile.
            }
        }
        return null;
    }

    /// <summary>Runs a resource command, as the dashboard's buttons do (e.g. start a stopped Redis).</summary>
    public async Task CommandAsync(string resource, string command)
    {
        var result = await App.Services.GetRequiredService<ResourceCommandService>().ExecuteCommandAsync(resource, command);
        Assert.True(result.Success, $"{command} on {resource}: {result.Message}");
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60));
            await App.StopAsync(cts.Token);
        }
        finally
        {
            await App.DisposeAsync();
        }
    }
}
