using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using System.Globalization;
using AspireAi.AppHost.Resources;

namespace AspireAi.AppHost;

/// <summary>
/// Where Postgres and Redis come from: an existing server (a connection string given to the AppHost), containers
/// (<see cref="InfrastructureMode.Containers"/>), or, by default, local processes from the Debian packages.
/// Every way yields a resource with the same name and the same kind of connection string.
/// </summary>
public static class InfrastructureExtensions
{
    private const string PostgresBin = "/usr/lib/postgresql/15/bin";
    private const string DatabaseName = "aspireai";

    public static IResourceBuilder<IResourceWithConnectionString> AddAspireAiPostgres(
        this IDistributedApplicationBuilder builder, string name, AppHostOptions options)
    {
        if (builder.Configuration.GetConnectionString(name) is { Length: > 0 })
        {
            return builder.AddConnectionString(name);
        }

        var password = builder.AddGeneratedSecret($"{name}-password", options.DataDirectory);
        if (options.Infrastructure == InfrastructureMode.Containers)
        {
            return builder.AddPostgres($"{name}-server", password: password.Parameter, port: options.PostgresPort)
                .WithImage("pgvector/pgvector").WithImageTag("pg17")
                .WithDataVolume()
                .AddDatabase(name, DatabaseName);
        }

        var dataDir = Path.Combine(options.DataDirectory, "postgres");
        // initdb once, as its own resource, so the dashboard shows it finish (or fail, with its log).
        var init = builder.AddExecutable($"{name}-init", "bash", options.DataDirectory,
                Path.Combine(builder.AppHostDirectory, "Resources", "postgres-init.sh"), dataDir, PostgresBin)
            .WithEnvironment("POSTGRES_PASSWORD", password.Parameter)
            .ExcludeFromManifest();

        // Postgres refuses to run as root: as root, setpriv starts it as the postgres user (exec, same pid).
        var root = Environment.UserName == "root";
        var postgres = new LocalPostgresResource(name, root ? "setpriv" : Path.Combine(PostgresBin, "postgres"),
            options.DataDirectory, password.Parameter.Resource, DatabaseName);
        List<string> args = root ? ["--reuid=postgres", "--regid=postgres", "--init-groups", Path.Combine(PostgresBin, "postgres")] : [];
        args.AddRange([
            "-D", dataDir,
            "-p", options.PostgresPort.ToString(CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1",
            // TCP only: no socket file in /var/run that the system's own cluster may own.
            "-c", "unix_socket_directories=",
            "-c", "max_connections=300",
        ]);
        if (!options.Durable)
        {
            args.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }

        // The maintenance database answers before the migrator has created the application's.
        var healthCheck = $"{name}-health";
        var maintenance = $"Host=127.0.0.1;Port={options.PostgresPort};Username=postgres;Password={password.Value};Database=postgres;Timeout=3";
        builder.Services.AddHealthChecks().AddNpgSql(maintenance, name: healthCheck);

        return builder.AddResource(postgres)
            .WithArgs([.. args])
            .WithEndpoint(port: options.PostgresPort, targetPort: options.PostgresPort, scheme: "tcp", name: LocalPostgresResource.EndpointName, isProxied: false)
            .WithHealthCheck(healthCheck)
            .WaitForCompletion(init)
            .ExcludeFromManifest();
    }

    public static IResourceBuilder<IResourceWithConnectionString> AddAspireAiRedis(
        this IDistributedApplicationBuilder builder, string name, AppHostOptions options)
    {
        if (builder.Configuration.GetConnectionString(name) is { Length: > 0 })
        {
            return builder.AddConnectionString(name);
        }

        var password = builder.AddGeneratedSecret($"{name}-password", options.DataDirectory);
        if (options.Infrastructure == InfrastructureMode.Containers)
        {
            return builder.AddRedis(name, options.RedisPort, password.Parameter).WithDataVolume();
        }

        // The password goes into a 0600 configuration file rather than onto the command line, which the
        // dashboard shows.
        var dataDir = Path.Combine(options.DataDirectory, "redis");
        Directory.CreateDirectory(dataDir);
        var configFile = Path.Combine(dataDir, "redis.conf");
        Parameters.WriteSecretFile(configFile, string.Join('\n',
            "bind 127.0.0.1",
            $"port {options.RedisPort.ToString(CultureInfo.InvariantCulture)}",
            $"requirepass {password.Value}",
            $"dir {dataDir}",
            options.Durable ? "appendonly yes" : "appendonly no",
            "save \"\"",
            ""));

        var healthCheck = $"{name}-health";
        builder.Services.AddHealthChecks().AddRedis($"127.0.0.1:{options.RedisPort},password={password.Value},abortConnect=false,connectTimeout=2000", name: healthCheck);

        return builder.AddResource(new LocalRedisResource(name, "redis-server", dataDir, password.Parameter.Resource))
            .WithArgs(configFile)
            .WithEndpoint(port: options.RedisPort, targetPort: options.RedisPort, scheme: "tcp", name: LocalRedisResource.EndpointName, isProxied: false)
            .WithHealthCheck(healthCheck)
            .ExcludeFromManifest();
    }
}
