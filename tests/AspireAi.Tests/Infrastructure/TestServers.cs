using AspireAi.LocalServers;
using AspireAi.Core.Data;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AspireAi.Tests.Infrastructure;

/// <summary>
/// One real PostgreSQL (+pgvector) and one real Redis for the whole test run, started on free ports with the
/// AppHost's own launchers and migrated with the production migrator. Tests share them and isolate themselves by
/// creating their own users and rows; a test that must kill a server starts a private one instead.
/// </summary>
public sealed class TestServers
{
    private static readonly Lazy<Task<TestServers>> Shared = new(StartSharedAsync);

    private TestServers(PostgresServer postgres, RedisServer redis, NpgsqlDataSource dataSource)
    {
        Postgres = postgres;
        Redis = redis;
        DataSource = dataSource;
    }

    public PostgresServer Postgres { get; }
    public RedisServer Redis { get; }
    public NpgsqlDataSource DataSource { get; }

    public string PostgresConnectionString => Postgres.ConnectionString;
    public string RedisConnectionString => Redis.ConnectionString;

    public static Task<TestServers> GetAsync() => Shared.Value;

    /// <summary>The master key (Encryption:MasterKey) of every host of this run: generated per run, like the database it
    /// encrypts. Hosts on the shared database must all use it, or they cannot unwrap each other's data keys.</summary>
    public static string EncryptionMasterKey { get; } = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));

    /// <summary>A Redis server owned by the calling test (stop it, kill it, restart it), cleaned up at exit.</summary>
    public static async Task<RedisServer> StartPrivateRedisAsync()
    {
        var redis = new RedisServer(new RedisServerOptions
        {
            DataDirectory = TempDirectory("redis"),
            Password = Secret(),
            Port = NativeProcess.FreeTcpPort(),
            Durable = false,
        });
        Track(redis.DisposeAsync);
        await redis.StartAsync();
        return redis;
    }

    /// <summary>A PostgreSQL server owned by the calling test, migrated, cleaned up at exit.</summary>
    public static async Task<PostgresServer> StartPrivatePostgresAsync()
    {
        var postgres = new PostgresServer(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(TempDirectory("postgres"), "data"),
            Password = Secret(),
            Port = NativeProcess.FreeTcpPort(),
            Durable = false,
        });
        Track(postgres.DisposeAsync);
        await postgres.StartAsync();
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
        return postgres;
    }

    private static async Task<TestServers> StartSharedAsync()
    {
        var postgresTask = StartPrivatePostgresAsync();
        var redisTask = StartPrivateRedisAsync();
        var postgres = await postgresTask;
        var redis = await redisTask;
        // Tests run the retrievers and ingestion handlers on it, which pass vectors as Pgvector.Vector.
        var dataSourceBuilder = new NpgsqlDataSourceBuilder(postgres.ConnectionString);
        dataSourceBuilder.UseVector();
        return new TestServers(postgres, redis, dataSourceBuilder.Build());
    }

    private static readonly List<Func<ValueTask>> Cleanups = [];

    private static void Track(Func<ValueTask> cleanup)
    {
        lock (Cleanups)
        {
            if (Cleanups.Count == 0)
            {
                // xunit v2 has no assembly-level fixture; process exit is the one place every test is done.
                AppDomain.CurrentDomain.ProcessExit += (_, _) => CleanUp();
            }
            Cleanups.Add(cleanup);
        }
    }

    private static void CleanUp()
    {
        Func<ValueTask>[] cleanups;
        lock (Cleanups)
        {
            cleanups = [.. Cleanups];
            Cleanups.Clear();
        }
        Task.WaitAll([.. cleanups.Select(c => c().AsTask())], TimeSpan.FromSeconds(30));
        foreach (var dir in TempDirectories)
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
        }
    }

    private static readonly List<string> TempDirectories = [];

    private const string OwnerFile = "aspireai-test-owner.pid";

    private static readonly Lazy<bool> StaleDirectoriesSwept = new(SweepStaleDirectories);

    public static string TempDirectory(string purpose)
    {
        _ = StaleDirectoriesSwept.Value;
        var dir = Directory.CreateTempSubdirectory($"aspireai-test-{purpose}-").FullName;
        File.WriteAllText(Path.Combine(dir, OwnerFile), Environment.ProcessId.ToString(System.Globalization.CultureInfo.InvariantCulture));
        lock (TempDirectories)
        {
            TempDirectories.Add(dir);
        }
        return dir;
    }

    // The process-exit clean-up does not always run (the runner may stop the test host rather than let it exit), and
    // every run then left its servers' directories behind, ~250 MB per Postgres: enough runs filled the disk. So each
    // run first removes those of runs whose process is gone and whose servers no longer run.
    private static bool SweepStaleDirectories()
    {
        foreach (var dir in Directory.EnumerateDirectories(Path.GetTempPath(), "aspireai-test-*"))
        {
            if (InUse(dir))
            {
                continue;
            }
            try
            {
                Directory.Delete(dir, recursive: true);
            }
            catch (IOException)
            {
            }
            catch (UnauthorizedAccessException)
            {
            }
        }
        return true;
    }

    private static bool InUse(string dir)
    {
        var owner = Path.Combine(dir, OwnerFile);
        if (!File.Exists(owner))
        {
            // From before owner files: spare the recent ones, which may belong to a run still going.
            return Directory.GetLastWriteTimeUtc(dir) > DateTime.UtcNow.AddHours(-1);
        }
        // A Postgres still running in it (postmaster.pid's first line), or the test process that made it.
        var postmaster = Path.Combine(dir, "data", "postmaster.pid");
        return Alive(File.ReadLines(owner).FirstOrDefault())
            || (File.Exists(postmaster) && Alive(File.ReadLines(postmaster).FirstOrDefault()));
    }

    private static bool Alive(string? pidText)
    {
        if (!int.TryParse(pidText, System.Globalization.CultureInfo.InvariantCulture, out var pid))
        {
            return false;
        }
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    public static string Secret() => Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16));
}
