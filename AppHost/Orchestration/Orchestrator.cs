using System.Globalization;
using System.Security.Cryptography;
using AspireAi.LocalServers;
using AspireAi.Core.Data;
using AspireAi.Core.Identity;
using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.AppHost.Orchestration;

/// <summary>
/// Brings the stack up in dependency order — Postgres, Redis, migrations (+ admin seed), then Api, Workers and
/// Web — keeps the services running, and takes everything down in reverse order when the host stops.
/// </summary>
public sealed class Orchestrator(
    IOptions<AppHostOptions> options,
    IConfiguration configuration,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    ConsoleOutput console) : BackgroundService
{
    private readonly AppHostOptions _options = options.Value;
    private readonly List<Func<Task>> _infrastructureStops = [];
    private readonly List<(ServiceResource Resource, Task Run)> _services = [];
    private ResourceRegistry? _registry;

    public static string DataDirectoryFor(AppHostOptions options) =>
        Path.GetFullPath(string.IsNullOrWhiteSpace(options.DataDirectory)
            ? Path.Combine(ServiceProjects.RepositoryRoot, ".aspireai")
            : options.DataDirectory);

    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var dataDir = DataDirectoryFor(_options);
        var runDir = Path.Combine(dataDir, "run");
        Directory.CreateDirectory(dataDir);
        var registry = _registry = new ResourceRegistry(runDir);
        registry.Changed += OnChanged;

        try
        {
            foreach (var leftover in PidFiles.KillLeftovers(runDir))
            {
                console.Info($"stopped {leftover} left running by a previous AppHost");
            }
            CheckPortsFree();

            var parameters = new Parameters(configuration, dataDir);
            registry.Add(ResourceNames.Postgres, "postgres");
            registry.Add(ResourceNames.Redis, "redis");
            registry.Add(ResourceNames.Migrations, "migrator");
            registry.Add(ResourceNames.Api, "project");
            registry.Add(ResourceNames.Workers, "project");
            registry.Add(ResourceNames.Web, "project");

            var postgres = await StartPostgresAsync(registry, parameters, dataDir, stoppingToken).ConfigureAwait(false);
            var redis = await StartRedisAsync(registry, parameters, dataDir, stoppingToken).ConfigureAwait(false);
            await MigrateAsync(registry, postgres, stoppingToken).ConfigureAwait(false);

            StartServices(registry, postgres, redis, parameters, runDir, stoppingToken);
            await WaitForHealthyAsync(registry, stoppingToken).ConfigureAwait(false);
            await Task.WhenAll(_services.Select(s => s.Run)).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
            // Normal shutdown.
        }
        catch (Exception ex)
        {
            console.Info($"start-up failed: {ex.Message}");
            Environment.ExitCode = 1;
            lifetime.StopApplication();
        }
    }

    public override async Task StopAsync(CancellationToken cancellationToken)
    {
        // Services first (they hold connections), then Redis and Postgres, so nothing logs spurious errors.
        await base.StopAsync(cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(_services.Select(s => s.Run)).ConfigureAwait(false);
        for (var i = _infrastructureStops.Count - 1; i >= 0; i--)
        {
            await _infrastructureStops[i]().ConfigureAwait(false);
        }
        console.Info("stopped");
    }

    private void OnChanged(ResourceSnapshot current, ResourceSnapshot? previous)
    {
        if (previous is not null && previous.State == current.State && previous.Pid == current.Pid)
        {
            return;
        }
        if (_options.NonInteractive || previous is null)
        {
            if (previous is not null)
            {
                var pid = current.Pid is { } p ? $" pid={p}" : "";
                var detail = current.Detail is { } d ? $" ({d})" : "";
                console.Info($"{current.Name} {current.State}{pid}{detail}");
            }
            return;
        }
        console.Table(_registry!.Snapshot());
    }

    private void CheckPortsFree()
    {
        var ports = new List<(string Name, int Port)> { ("api", _options.ApiPort), ("workers", _options.WorkersPort), ("web", _options.WebPort) };
        if (External(ResourceNames.Postgres) is null)
        {
            ports.Add(("postgres", _options.PostgresPort));
        }
        if (External(ResourceNames.Redis) is null)
        {
            ports.Add(("redis", _options.RedisPort));
        }
        var busy = ports.Where(p => NativeProcess.IsTcpPortInUse(p.Port)).ToList();
        if (busy.Count > 0)
        {
            throw new InvalidOperationException(
                "port(s) already in use: " + string.Join(", ", busy.Select(b => $"{b.Name} {b.Port}")) +
                ". Is another AppHost running? Choose other ports with --api-port, --web-port, --workers-port, --postgres-port, --redis-port.");
        }
    }

    /// <summary>A connection string given to the AppHost means "use this server, do not start one" (production-like).</summary>
    private string? External(string name) => configuration.GetConnectionString(name) is { Length: > 0 } cs ? cs : null;

    private async Task<string> StartPostgresAsync(ResourceRegistry registry, Parameters parameters, string dataDir, CancellationToken cancellationToken)
    {
        if (External(ResourceNames.Postgres) is { } external)
        {
            registry.Update(ResourceNames.Postgres, r => r with { Type = "postgres (external)", State = ResourceState.Starting });
            await using var dataSource = NpgsqlDataSource.Create(external);
            await using (var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false)) { }
            registry.Update(ResourceNames.Postgres, r => r with { State = ResourceState.Healthy, Health = "Healthy", Url = HostOf(external) });
            return external;
        }

        var server = new PostgresServer(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(dataDir, "postgres"),
            Password = parameters.Get("postgres-password"),
            Port = _options.PostgresPort,
            Durable = _options.Durable,
        }, line => console.Log(ResourceNames.Postgres, line));
        await StartServerAsync(registry, ResourceNames.Postgres, server, _options.PostgresPort, cancellationToken).ConfigureAwait(false);
        return server.ConnectionString;
    }

    private async Task<string> StartRedisAsync(ResourceRegistry registry, Parameters parameters, string dataDir, CancellationToken cancellationToken)
    {
        if (External(ResourceNames.Redis) is { } external)
        {
            registry.Update(ResourceNames.Redis, r => r with { Type = "redis (external)", State = ResourceState.Healthy, Health = "not checked", Url = external.Split(',')[0] });
            return external;
        }

        var server = new RedisServer(new RedisServerOptions
        {
            DataDirectory = Path.Combine(dataDir, "redis"),
            Password = parameters.Get("redis-password"),
            Port = _options.RedisPort,
            Durable = _options.Durable,
        }, line => console.Log(ResourceNames.Redis, line));
        await StartServerAsync(registry, ResourceNames.Redis, server, _options.RedisPort, cancellationToken).ConfigureAwait(false);
        return server.ConnectionString;
    }

    // The stop is registered before the start, so a server that fails half-way through start-up is still stopped.
    private async Task StartServerAsync(ResourceRegistry registry, string name, ForegroundServer server, int port, CancellationToken cancellationToken)
    {
        registry.Update(name, r => r with { State = ResourceState.Starting, Url = $"tcp://127.0.0.1:{port}" });
        _infrastructureStops.Add(async () =>
        {
            registry.Update(name, r => r with { State = ResourceState.Stopping });
            await server.DisposeAsync().ConfigureAwait(false);
            registry.Update(name, r => r with { State = ResourceState.Stopped, Pid = null, Health = null });
        });
        await server.StartAsync(cancellationToken).ConfigureAwait(false);
        registry.Update(name, r => r with { State = ResourceState.Healthy, Pid = server.Pid, Health = "Healthy" });
    }

    /// <summary>The migrator runs to completion before any service starts, so no service ever sees an old schema.</summary>
    private async Task MigrateAsync(ResourceRegistry registry, string connectionString, CancellationToken cancellationToken)
    {
        registry.Update(ResourceNames.Migrations, r => r with { State = ResourceState.Running });
        try
        {
            await using var dataSource = NpgsqlDataSource.Create(connectionString);
            var applied = await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync(cancellationToken).ConfigureAwait(false);
            foreach (var version in applied)
            {
                console.Log(ResourceNames.Migrations, $"applied {version}");
            }

            var admin = configuration.GetSection(AdminSeedOptions.SectionName).Get<AdminSeedOptions>() ?? new AdminSeedOptions();
            if (string.IsNullOrEmpty(admin.Email) || string.IsNullOrEmpty(admin.Password))
            {
                throw new InvalidOperationException(environment.IsDevelopment()
                    ? "Admin:Email and Admin:Password are empty; AppHost/appsettings.Development.json should set them."
                    : "Admin:Email and Admin:Password must be set outside Development (e.g. Admin__Email, Admin__Password).");
            }
            if (await new AdminSeeder(dataSource, NullLogger<AdminSeeder>.Instance).SeedAsync(admin, cancellationToken).ConfigureAwait(false))
            {
                console.Log(ResourceNames.Migrations, $"seeded administrator {admin.Email}");
            }
            registry.Update(ResourceNames.Migrations, r => r with
            {
                State = ResourceState.Finished,
                Detail = applied.Count == 0 ? "schema up to date" : $"applied {applied.Count}",
            });
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            registry.Update(ResourceNames.Migrations, r => r with { State = ResourceState.Failed, Detail = ex.Message });
            throw;
        }
    }

    private void StartServices(ResourceRegistry registry, string postgres, string redis, Parameters parameters, string runDir, CancellationToken stoppingToken)
    {
        var apiUrl = Url(_options.ApiPort);
        var common = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["ASPNETCORE_ENVIRONMENT"] = environment.EnvironmentName,
            ["DOTNET_ENVIRONMENT"] = environment.EnvironmentName,
            ["Logging__Console__FormatterName"] = "simple",
            ["Logging__Console__FormatterOptions__SingleLine"] = "true",
            ["Logging__Console__FormatterOptions__TimestampFormat"] = "HH:mm:ss ",
            ["DOTNET_NOLOGO"] = "1",
        };
        foreach (var key in (string[])["OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_PROTOCOL", "OTEL_EXPORTER_OTLP_HEADERS"])
        {
            if (configuration[key] is { Length: > 0 } value)
            {
                common[key] = value;
            }
        }

        // Application settings given to the AppHost (appsettings, AppHost env vars, command line) reach the services
        // that own them, the way an Aspire AppHost passes WithEnvironment values.
        var backend = new Dictionary<string, string?>(StringComparer.Ordinal)
        {
            ["Auth__SigningKey"] = parameters.Get("auth-signing-key", () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))),
        };
        foreach (var section in (string[])["Llm", "Chat", "Pricing", "Auth", "Memory", "Documents", "Jobs"])
        {
            foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
            {
                if (value is not null)
                {
                    backend[key.Replace(":", "__", StringComparison.Ordinal)] = value;
                }
            }
        }

        Dictionary<string, string?> For(string name, int port, bool data, bool api)
        {
            var env = new Dictionary<string, string?>(common, StringComparer.Ordinal)
            {
                ["ASPNETCORE_URLS"] = Url(port),
                ["OTEL_SERVICE_NAME"] = name,
                ["OTEL_RESOURCE_ATTRIBUTES"] = $"service.instance.id={Guid.NewGuid():N}",
                ["ConnectionStrings__postgres"] = data ? postgres : null,
                ["ConnectionStrings__redis"] = data ? redis : null,
                ["services__api__http__0"] = api ? apiUrl : null,
            };
            if (data)
            {
                foreach (var (key, value) in backend)
                {
                    env[key] = value;
                }
            }
            return env;
        }

        var maxDelay = TimeSpan.FromSeconds(_options.MaxRestartDelaySeconds);
        (string Name, int Port, bool Data, bool Api)[] services =
        [
            (ResourceNames.Api, _options.ApiPort, true, false),
            (ResourceNames.Workers, _options.WorkersPort, true, true),
            (ResourceNames.Web, _options.WebPort, false, true),
        ];
        foreach (var (name, port, data, api) in services)
        {
            var resource = new ServiceResource(ServiceProjects.Get(name), Url(port), For(name, port, data, api), registry, console, runDir, maxDelay);
            _services.Add((resource, Task.Run(() => resource.RunAsync(stoppingToken), CancellationToken.None)));
        }
    }

    private async Task WaitForHealthyAsync(ResourceRegistry registry, CancellationToken cancellationToken)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(_options.StartupTimeoutSeconds);
        string[] names = [ResourceNames.Api, ResourceNames.Workers, ResourceNames.Web];
        while (!names.All(n => registry.Get(n).State == ResourceState.Healthy))
        {
            if (DateTime.UtcNow > deadline)
            {
                var pending = names.Where(n => registry.Get(n).State != ResourceState.Healthy)
                    .Select(n => $"{n} ({registry.Get(n).State}: {registry.Get(n).Health ?? registry.Get(n).Detail ?? "no answer"})");
                var message = $"not healthy after {_options.StartupTimeoutSeconds}s: {string.Join(", ", pending)}";
                if (_options.NonInteractive)
                {
                    throw new TimeoutException(message);
                }
                console.Info(message);
                return;
            }
            await Task.Delay(200, cancellationToken).ConfigureAwait(false);
        }
        var urls = string.Join(", ", names.Select(n => $"{n} {registry.Get(n).Url}"));
        console.Info($"all resources healthy: {urls}");
    }

    private static string Url(int port) => string.Create(CultureInfo.InvariantCulture, $"http://127.0.0.1:{port}");

    private static string HostOf(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        return $"tcp://{builder.Host}:{builder.Port}";
    }
}
