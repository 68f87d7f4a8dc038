using Npgsql;

namespace AspireAi.LocalServers;

public sealed record PostgresServerOptions
{
    public required string DataDirectory { get; init; }
    public required string Password { get; init; }
    public int Port { get; init; } = 55432;
    public string Database { get; init; } = "aspireai";

    /// <summary>False for throw-away test servers: no fsync, so a test run does not wait on the disk.</summary>
    public bool Durable { get; init; } = true;

    /// <summary>More server settings, each "name=value" (passed as <c>-c</c>), e.g. for a benchmark's statistics.</summary>
    public IReadOnlyList<string> Settings { get; init; } = [];

    public string BinDirectory { get; init; } = "/usr/lib/postgresql/15/bin";
    public TimeSpan StartTimeout { get; init; } = TimeSpan.FromSeconds(60);
}

/// <summary>
/// Runs a PostgreSQL server as a foreground child process on its own data directory: initdb on first use,
/// the database and the vector extension created. Used by the AppHost and by the test fixtures alike.
/// </summary>
/// <remarks>Stopped with a fast shutdown (SIGINT): active transactions roll back, the server checkpoints and exits.</remarks>
public sealed class PostgresServer(PostgresServerOptions options, Action<string>? onOutput = null)
    : ForegroundServer(NativeProcess.SigInt, TimeSpan.FromSeconds(30))
{
    // PostgreSQL refuses to run as root, so when we are root it runs as the Debian package's user.
    private const string ServiceUser = "postgres";
    private const string SuperUser = "postgres";

    public PostgresServerOptions Options => options;

    public string ConnectionString => ConnectionStringFor(options.Database);

    public string ConnectionStringFor(string database) => new NpgsqlConnectionStringBuilder
    {
        Host = "127.0.0.1",
        Port = options.Port,
        Username = SuperUser,
        Password = options.Password,
        Database = database,
    }.ConnectionString;

    public override async Task StartAsync(CancellationToken cancellationToken = default)
    {
        if (IsRunning)
        {
            return;
        }
        var dataDir = Path.GetFullPath(options.DataDirectory);
        Directory.CreateDirectory(dataDir);
        await EnsureOwnershipAsync(dataDir, cancellationToken).ConfigureAwait(false);

        if (!File.Exists(Path.Combine(dataDir, "PG_VERSION")))
        {
            await InitDbAsync(dataDir, cancellationToken).ConfigureAwait(false);
        }
        await StopStaleServerAsync(dataDir).ConfigureAwait(false);

        List<string> args =
        [
            "-D", dataDir,
            "-p", options.Port.ToString(System.Globalization.CultureInfo.InvariantCulture),
            "-c", "listen_addresses=127.0.0.1",
            // TCP only: no socket file in /var/run that another cluster may own.
            "-c", "unix_socket_directories=",
            "-c", "max_connections=300",
            "-c", "log_min_messages=warning",
        ];
        if (!options.Durable)
        {
            args.AddRange(["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"]);
        }
        args.AddRange(options.Settings.SelectMany(setting => new[] { "-c", setting }));

        Process = ChildProcess.Start(
            new ChildProcessSpec(Path.Combine(options.BinDirectory, "postgres"), args) { RunAsUser = ServiceUser, WorkingDirectory = dataDir },
            line => onOutput?.Invoke(line));

        await WaitUntilReadyAsync($"PostgreSQL on port {options.Port}", options.StartTimeout, TimeSpan.FromMilliseconds(100),
            CanConnectAsync, cancellationToken).ConfigureAwait(false);
        await EnsureDatabaseAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task InitDbAsync(string dataDir, CancellationToken cancellationToken)
    {
        // initdb reads the superuser password from a file; it lives outside the data directory (which must be
        // empty) and is readable only by the server's user.
        var pwFile = Path.Combine(Path.GetDirectoryName(dataDir)!, $".pgpass-init-{Guid.NewGuid():N}");
        await File.WriteAllTextAsync(pwFile, options.Password, cancellationToken).ConfigureAwait(false);
        File.SetUnixFileMode(pwFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        try
        {
            await EnsureOwnershipAsync(pwFile, cancellationToken).ConfigureAwait(false);
            List<string> args =
            [
                "-D", dataDir, "-U", SuperUser, $"--pwfile={pwFile}",
                "--auth-host=scram-sha-256", "--auth-local=peer", "--encoding=UTF8", "--locale=C.UTF-8",
            ];
            if (!options.Durable)
            {
                args.Add("--no-sync");
            }
            var output = new List<string>();
            await using var initdb = ChildProcess.Start(
                new ChildProcessSpec(Path.Combine(options.BinDirectory, "initdb"), args) { RunAsUser = ServiceUser, WorkingDirectory = dataDir },
                line => { lock (output) { output.Add(line); } });
            await initdb.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
            if (initdb.ExitCode != 0)
            {
                throw new InvalidOperationException($"initdb failed ({initdb.ExitCode}): {string.Join('\n', output)}");
            }
        }
        finally
        {
            File.Delete(pwFile);
        }
    }

    /// <summary>A server left running by an AppHost that was killed holds the data directory; stop it.</summary>
    private static async Task StopStaleServerAsync(string dataDir)
    {
        var pidFile = Path.Combine(dataDir, "postmaster.pid");
        if (!File.Exists(pidFile))
        {
            return;
        }
        var firstLine = File.ReadLines(pidFile).FirstOrDefault();
        if (int.TryParse(firstLine, out var pid) && NativeProcess.IsAlive(pid))
        {
            NativeProcess.Signal(pid, NativeProcess.SigInt);
            await NativeProcess.WaitForExitAsync(pid, TimeSpan.FromSeconds(30)).ConfigureAwait(false);
            if (NativeProcess.IsAlive(pid))
            {
                throw new InvalidOperationException($"A PostgreSQL server (pid {pid}) still holds {dataDir}.");
            }
        }
    }

    private async Task<bool> CanConnectAsync(CancellationToken cancellationToken)
    {
        var probe = new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false, Timeout = 2 }.ConnectionString;
        try
        {
            await using var connection = new NpgsqlConnection(probe);
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            return true;
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            return false;
        }
    }

    private async Task EnsureDatabaseAsync(CancellationToken cancellationToken)
    {
        var admin = new NpgsqlConnectionStringBuilder(ConnectionStringFor("postgres")) { Pooling = false }.ConnectionString;
        await using (var connection = new NpgsqlConnection(admin))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var exists = new NpgsqlCommand("SELECT 1 FROM pg_database WHERE datname = $1", connection)
            {
                Parameters = { new() { Value = options.Database } },
            };
            if (await exists.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is null)
            {
                // Identifiers cannot be parameters; the name is quoted as an identifier.
                await using var create = new NpgsqlCommand($"CREATE DATABASE \"{options.Database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
                await create.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            }
        }

        var app = new NpgsqlConnectionStringBuilder(ConnectionString) { Pooling = false }.ConnectionString;
        await using (var connection = new NpgsqlConnection(app))
        {
            await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
            await using var extension = new NpgsqlCommand("CREATE EXTENSION IF NOT EXISTS vector", connection);
            await extension.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task EnsureOwnershipAsync(string path, CancellationToken cancellationToken)
    {
        if (!NativeProcess.IsRoot)
        {
            return;
        }
        // The server's user must be able to reach the data directory through every parent directory.
        for (var dir = Path.GetDirectoryName(path); !string.IsNullOrEmpty(dir) && dir != "/"; dir = Path.GetDirectoryName(dir))
        {
            var mode = File.GetUnixFileMode(dir);
            if (!mode.HasFlag(UnixFileMode.OtherExecute))
            {
                File.SetUnixFileMode(dir, mode | UnixFileMode.OtherExecute);
            }
        }
        await using var chown = ChildProcess.Start(new ChildProcessSpec("chown", ["-R", $"{ServiceUser}:{ServiceUser}", path]), _ => { });
        await chown.WaitForExitAsync(cancellationToken).ConfigureAwait(false);
        if (chown.ExitCode != 0)
        {
            throw new InvalidOperationException($"chown of {path} to {ServiceUser} failed.");
        }
    }
}
