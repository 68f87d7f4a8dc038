using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Core.Data;
using AspireAi.LocalServers;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AspireAi.ChatBench;

/// <summary>A bench user: a bearer token and a conversation holding 20 messages of history.</summary>
internal sealed record BenchUser(string Token, Guid ConversationId);

/// <summary>
/// What every run stands up: its own durable Postgres and Redis, the real Api process (Production environment,
/// warnings-only logging) pointed at an OpenAI-compatible provider, and optionally the real Workers process.
/// </summary>
internal sealed class BenchStack : IAsyncDisposable
{
    private readonly List<IAsyncDisposable> _owned = [];

    private readonly string _work;

    private BenchStack(string work, PostgresServer postgres, RedisServer redis, NpgsqlDataSource dataSource, HttpClient http)
    {
        _work = work;
        Postgres = postgres;
        Redis = redis;
        DataSource = dataSource;
        Http = http;
    }

    public PostgresServer Postgres { get; }

    public RedisServer Redis { get; }

    public NpgsqlDataSource DataSource { get; }

    public HttpClient Http { get; }

    public Uri ApiUrl { get; private set; } = null!;

    public ChildProcess Api { get; private set; } = null!; // set by StartAsync before the stack is returned

    public ChildProcess? Workers { get; private set; }

    /// <param name="providerEndpoint">The provider's OpenAI base URL, ending in <c>/v1/</c>.</param>
    /// <param name="withWorkers">Also start the Workers (memory extraction of every answer), on the offline model.</param>
    /// <param name="sharedSettings">Settings of both services (the embedding model must be the same in both; a
    /// <c>Llm__Provider</c> here also moves the Workers' extraction off the offline model).</param>
    public static async Task<BenchStack> StartAsync(string providerEndpoint, string chatModel, bool withWorkers,
        IReadOnlyDictionary<string, string?>? apiSettings = null, IReadOnlyDictionary<string, string?>? sharedSettings = null)
    {
        var work = Directory.CreateTempSubdirectory("aspireai-chatbench-").FullName;
        var postgres = new PostgresServer(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(work, "pg"), Password = BenchData.Secret(), Port = NativeProcess.FreeTcpPort(), Durable = true,
            // Where the database's share of a turn goes: statements, calls and time per statement (StatementsAsync).
            // track_planning: how often each statement is planned (a prepared statement on a custom plan is planned
            // on every call), and for how long.
            Settings = ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all", "pg_stat_statements.track_planning=on"],
        });
        var redis = new RedisServer(new RedisServerOptions
        {
            DataDirectory = Path.Combine(work, "redis"), Password = BenchData.Secret(), Port = NativeProcess.FreeTcpPort(), Durable = true,
        });
        await postgres.StartAsync();
        await redis.StartAsync();
        var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
        await using (var statements = dataSource.CreateCommand("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
        {
            await statements.ExecuteNonQueryAsync();
        }
        Console.Error.WriteLine($"# services' logs: {work}/api.log, {work}/workers.log");
        var stack = new BenchStack(work, postgres, redis, dataSource,
            new HttpClient(new SocketsHttpHandler { MaxConnectionsPerServer = 2000 }) { Timeout = Timeout.InfiniteTimeSpan });

        var settings = new Dictionary<string, string?>
        {
            ["ASPNETCORE_ENVIRONMENT"] = "Production",
            ["ConnectionStrings__postgres"] = new NpgsqlConnectionStringBuilder(postgres.ConnectionString) { MaxPoolSize = 300 }.ConnectionString,
            ["ConnectionStrings__redis"] = redis.ConnectionString,
            ["Auth__SigningKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            // One master key for both services: the Workers decrypt what the Api encrypted.
            ["Encryption__MasterKey"] = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32)),
            ["Llm__EmbeddingProvider"] = "Offline",
            ["Logging__LogLevel__Default"] = "Warning",
            // The harness sends hundreds of turns a minute per user from one address; the per-caller limits are not
            // what it measures.
            ["RateLimits__Enabled"] = "false",
            // Thousands of turns per user with 20 messages of history: the daily token budget is not what it measures.
            ["Chat__DailyTokenBudget"] = "0",
        };
        foreach (var (key, value) in sharedSettings ?? new Dictionary<string, string?>())
        {
            settings[key] = value;
        }
        var api = new Dictionary<string, string?>(settings)
        {
            ["Llm__Provider"] = "OpenAICompatible",
            ["Llm__Endpoint"] = providerEndpoint,
            ["Llm__ChatModel"] = chatModel,
            ["Llm__ApiKey"] = "bench",
        };
        foreach (var (key, value) in apiSettings ?? new Dictionary<string, string?>())
        {
            api[key] = value;
        }
        try
        {
            await stack.StartServicesAsync(api, settings, withWorkers);
        }
        catch
        {
            // A service that fails its start (invalid settings, say) must not leave the others running behind the run.
            await stack.DisposeAsync();
            throw;
        }
        return stack;
    }

    private async Task StartServicesAsync(Dictionary<string, string?> api, Dictionary<string, string?> settings, bool withWorkers)
    {
        (ApiUrl, Api) = StartService("AspireAi.Api", "api", api);
        await BenchData.WaitHealthyAsync(Http, ApiUrl);
        if (withWorkers)
        {
            // The Workers' model calls (memory extraction) are not what the fake provider answers (it only streams):
            // they use the offline model, the default, which also keeps their CPU cost realistic for a self-hosted setup.
            var workerSettings = new Dictionary<string, string?>(settings);
            workerSettings.TryAdd("Llm__Provider", "Offline");
            var (workersUrl, workers) = StartService("AspireAi.Workers", "workers", workerSettings);
            Workers = workers;
            await BenchData.WaitHealthyAsync(Http, workersUrl);
        }
    }

    /// <summary>Users that sign in through the Api, each with a conversation holding 20 messages of history.</summary>
    public async Task<List<BenchUser>> CreateUsersAsync(int count)
    {
        var users = new List<BenchUser>();
        foreach (var (email, password) in await BenchData.CreateUsersAsync(DataSource, count))
        {
            using var signIn = await Http.PostAsJsonAsync(new Uri(ApiUrl, "/v1/auth/token"), new { email, password });
            signIn.EnsureSuccessStatusCode();
            var token = (await signIn.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString()!;
            using var create = new HttpRequestMessage(HttpMethod.Post, new Uri(ApiUrl, "/v1/conversations")) { Content = JsonContent.Create(new { title = "bench" }) };
            create.Headers.Authorization = new AuthenticationHeaderValue("Bearer", token);
            using var created = await Http.SendAsync(create);
            created.EnsureSuccessStatusCode();
            var id = (await created.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
            await BenchData.SeedHistoryAsync(DataSource, id, 20);
            users.Add(new BenchUser(token, id));
        }
        return users;
    }

    /// <summary>Waits until no job is queued or running (the Workers' share of the load comes after the turns).</summary>
    public async Task WaitForIdleQueueAsync(TimeSpan timeout)
    {
        var until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            await using var command = DataSource.CreateCommand("SELECT count(*) FROM jobs WHERE status IN ('queued', 'running')");
            if ((long)(await command.ExecuteScalarAsync())! == 0)
            {
                return;
            }
            await Task.Delay(500);
        }
        Console.Error.WriteLine($"The job queue was not idle within {timeout}.");
    }

    /// <summary>Gathers the planner's statistics of every table now, instead of at autovacuum's next round.</summary>
    public async Task AnalyzeAsync()
    {
        await using var command = DataSource.CreateCommand("ANALYZE");
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>A file in the run's work directory, beside the services' logs.</summary>
    public string WorkFile(string name) => Path.Combine(_work, name);

    /// <summary>Forgets the statement statistics gathered so far (set-up, warm-up).</summary>
    public async Task ResetStatementsAsync()
    {
        await using var command = DataSource.CreateCommand("SELECT pg_stat_statements_reset()");
        await command.ExecuteNonQueryAsync();
    }

    /// <summary>
    /// The statements that took the most database time since the reset, planning included: calls, plans (a statement
    /// planned on every call is either unprepared or on a custom plan), total time (planning and execution) and the
    /// share of it spent planning.
    /// </summary>
    public async Task<List<(string Query, long Calls, long Plans, double TotalMs, double PlanMs)>> StatementsAsync(int top)
    {
        await using var command = DataSource.CreateCommand("""
            SELECT regexp_replace(query, '\s+', ' ', 'g'), calls, plans, total_plan_time + total_exec_time, total_plan_time
            FROM pg_stat_statements
            WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_plan_time + total_exec_time DESC
            LIMIT $1
            """);
        command.Parameters.Add(new() { Value = top });
        var rows = new List<(string, long, long, double, double)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2), reader.GetDouble(3), reader.GetDouble(4)));
        }
        return rows;
    }

    /// <summary>Planning and execution time of every statement since the reset, in ms.</summary>
    public async Task<(double PlanMs, double ExecMs)> StatementTimeAsync()
    {
        await using var command = DataSource.CreateCommand("""
            SELECT coalesce(sum(total_plan_time), 0), coalesce(sum(total_exec_time), 0) FROM pg_stat_statements
            WHERE toplevel AND dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            """);
        await using var reader = await command.ExecuteReaderAsync();
        await reader.ReadAsync();
        return (reader.GetDouble(0), reader.GetDouble(1));
    }

    /// <summary>Statements executed since the reset, all of them (each is one round trip or part of a pipelined one).</summary>
    public async Task<long> StatementCountAsync()
    {
        await using var command = DataSource.CreateCommand(
            "SELECT coalesce(sum(calls), 0)::bigint FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())");
        return (long)(await command.ExecuteScalarAsync())!;
    }

    public async ValueTask DisposeAsync()
    {
        if (Api is not null)
        {
            await Api.StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(10));
        }
        if (Workers is not null)
        {
            await Workers.StopAsync(NativeProcess.SigTerm, TimeSpan.FromSeconds(10));
        }
        foreach (var owned in _owned)
        {
            await owned.DisposeAsync();
        }
        Http.Dispose();
        await DataSource.DisposeAsync();
        await Redis.DisposeAsync();
        await Postgres.DisposeAsync();
    }

    private (Uri Url, ChildProcess Process) StartService(string project, string name, Dictionary<string, string?> settings)
    {
        var port = NativeProcess.FreeTcpPort();
        var dll = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", project, new DirectoryInfo(AppContext.BaseDirectory).Name, project + ".dll"));
        var process = ChildProcess.Start(new ChildProcessSpec("dotnet", [dll])
        {
            WorkingDirectory = Path.GetDirectoryName(dll),
            Environment = new Dictionary<string, string?>(settings) { ["ASPNETCORE_URLS"] = $"http://127.0.0.1:{port}" },
        }, line =>
        {
            // Everything the service writes goes to its log in the run's directory; failures also to the console.
            lock (_owned)
            {
                File.AppendAllText(Path.Combine(_work, $"{name}.log"), line + Environment.NewLine);
            }
            if (line.Contains("fail", StringComparison.OrdinalIgnoreCase))
            {
                Console.Error.WriteLine($"{name} | {line}");
            }
        });
        _owned.Add(process);
        return (new Uri($"http://127.0.0.1:{port}"), process);
    }
}
