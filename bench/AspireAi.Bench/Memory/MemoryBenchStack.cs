using AspireAi.LocalServers;
using AspireAi.Core.Data;
using AspireAi.Core.Memory;
using AspireAi.Core.Redis;
using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;
using AspireAi.Workers.Memory;

namespace AspireAi.Bench.Memory;

/// <summary>
/// PostgreSQL (+pgvector) and Redis started by the harness, migrated, with the memory services of the Workers host
/// (the same classes the Api and Workers use). A data directory can be kept and reused, so a 1,000,000-memory load is
/// paid once.
/// </summary>
internal sealed class MemoryBenchStack : IAsyncDisposable
{
    private const string Password = "aspireai-memory-bench";

    private readonly string _directory;
    private readonly bool _keep;

    private MemoryBenchStack(string directory, bool keep, PostgresServer postgres, RedisServer redis, IHost host)
    {
        _directory = directory;
        _keep = keep;
        Postgres = postgres;
        Redis = redis;
        Host = host;
    }

    public PostgresServer Postgres { get; }
    public RedisServer Redis { get; }
    public IHost Host { get; }
    public NpgsqlDataSource DataSource => Host.Services.GetRequiredService<NpgsqlDataSource>();
    public IServiceProvider Services => Host.Services;

    public static async Task<MemoryBenchStack> StartAsync(string? directory, bool keep, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var root = directory ?? Directory.CreateTempSubdirectory("aspireai-memory-bench-").FullName;
        Directory.CreateDirectory(root);
        var postgres = new PostgresServer(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(root, "pg"),
            Password = Password,
            Port = NativeProcess.FreeTcpPort(),
            // Reads are what is measured; a durable load would only take longer.
            Durable = false,
        });
        Console.WriteLine($"Starting PostgreSQL 15 in {root}/pg ...");
        await postgres.StartAsync();
        await using (var setup = NpgsqlDataSource.Create(postgres.ConnectionString))
        {
            // Enough shared memory to hold the table and the HNSW graph, as a production server for this data would.
            foreach (var sql in new[]
            {
                "ALTER SYSTEM SET shared_buffers = '6GB'", "ALTER SYSTEM SET effective_cache_size = '16GB'", "ALTER SYSTEM SET work_mem = '32MB'",
                "ALTER SYSTEM SET max_parallel_maintenance_workers = 2", "ALTER SYSTEM SET jit = off",
            })
            {
                await using var command = setup.CreateCommand(sql);
                await command.ExecuteNonQueryAsync();
            }
        }
        await postgres.StopAsync();
        await postgres.StartAsync();
        await using (var migrate = NpgsqlDataSource.Create(postgres.ConnectionString))
        {
            await new DatabaseMigrator(migrate, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
        }
        var redis = new RedisServer(new RedisServerOptions
        {
            DataDirectory = Path.Combine(root, "redis"),
            Password = Password,
            Port = NativeProcess.FreeTcpPort(),
            Durable = false,
        });
        await redis.StartAsync();

        var builder = Microsoft.Extensions.Hosting.Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        var configuration = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { MaxPoolSize = 50 }.ConnectionString,
            ["ConnectionStrings:redis"] = redis.ConnectionString,
            // Fixed, so that data kept with --keep still decrypts; the bench's data is synthetic, the key protects nothing.
            ["Encryption:MasterKey"] = BenchMasterKey,
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            configuration[key] = value;
        }
        builder.Configuration.AddInMemoryCollection(configuration);
        builder.Logging.ClearProviders();
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.Services.AddProblemDetails();
        builder.AddDatabase();
        builder.AddRedis();
        builder.AddMemoryJobs();
        var host = builder.Build();
        return new MemoryBenchStack(root, keep || directory is not null, postgres, redis, host);
    }

    private const string BenchMasterKey = "YXNwaXJlYWktYmVuY2gtbWFzdGVyLWtleS0zMmJ5dGU=";

    public async ValueTask DisposeAsync()
    {
        Host.Dispose();
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
        if (!_keep)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // The server's files may still be held for a moment; the temp directory is cleaned up by the OS.
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
    }
}
