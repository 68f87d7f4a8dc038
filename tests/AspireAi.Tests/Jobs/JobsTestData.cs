using System.Text.Json;
using AspireAi.Core.Data;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using AspireAi.Workers.Jobs;
using AspireAi.Workers.Jobs.Testing;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AspireAi.Tests.Jobs;

/// <summary>
/// Helpers for job tests on the shared database. Each test uses job types of its own ("test.effect.{guid}"), so
/// workers of other tests never touch its jobs and counts are never shared.
/// </summary>
internal static class JobsTestData
{
    public static string NewType(string prefix = TestEffectHandler.DefaultType) => $"{prefix}.{Guid.NewGuid():N}";

    public static Task EnsureSchemaAsync(NpgsqlDataSource dataSource) => TestEffectHandler.EnsureSchemaAsync(dataSource, CancellationToken.None);

    /// <summary>A job-queue host without workers (the Api's view): IJobQueue, JobAdministration, options.</summary>
    public static IHost CreateQueueHost(string connectionString, IReadOnlyDictionary<string, string?>? settings = null)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        builder.Configuration.AddInMemoryCollection(WithDefaults(connectionString, settings));
        builder.Services.AddProblemDetails(); // the Api's, which the jobs' error handlers need
        builder.AddDatabase();
        builder.AddJobs();
        return builder.Build();
    }

    /// <summary>Starts <paramref name="count"/> independent in-process Workers job hosts (each its own worker id, pool and listener).</summary>
    public static async Task<IReadOnlyList<IHost>> StartWorkerHostsAsync(string connectionString, int count, IReadOnlyDictionary<string, string?> settings)
    {
        var hosts = new List<IHost>();
        for (var i = 0; i < count; i++)
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
            builder.Configuration.AddInMemoryCollection(WithDefaults(connectionString, new Dictionary<string, string?>(settings)
            {
                ["Jobs:EnableTestHandlers"] = "true",
            }));
            builder.Services.AddProblemDetails(); // from AddServiceDefaults in the real Workers
            builder.AddDatabase();
            builder.AddJobWorkers();
            hosts.Add(builder.Build());
        }
        await Task.WhenAll(hosts.Select(h => h.StartAsync()));
        return hosts;
    }

    public static async Task StopAsync(IEnumerable<IHost> hosts)
    {
        await Task.WhenAll(hosts.Select(h => h.StopAsync()));
        foreach (var host in hosts)
        {
            host.Dispose();
        }
    }

    public static string WorkerId(IHost host) => host.Services.GetRequiredService<WorkerIdentity>().Id;

    public static async Task<T> ScalarAsync<T>(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }

    public static async Task<int> ExecuteAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        return await command.ExecuteNonQueryAsync();
    }

    public static Task<long> CountAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters) =>
        ScalarAsync<long>(dataSource, sql, parameters);

    public static Task<string> StatusAsync(NpgsqlDataSource dataSource, long jobId) =>
        ScalarAsync<string>(dataSource, "SELECT status FROM jobs WHERE id = $1", jobId);

    /// <summary>Polls until <paramref name="condition"/> holds; fails with <paramref name="what"/> (and extra diagnostics) otherwise.</summary>
    public static async Task WaitUntilAsync(Func<Task<bool>> condition, TimeSpan timeout, string what, Func<string>? diagnostics = null)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                throw new Xunit.Sdk.XunitException($"Timed out after {timeout} waiting for {what}.\n{diagnostics?.Invoke()}");
            }
            await Task.Delay(50);
        }
    }

    public static Task WaitForStatusAsync(NpgsqlDataSource dataSource, long jobId, string status, TimeSpan timeout, Func<string>? diagnostics = null) =>
        WaitUntilAsync(async () => await StatusAsync(dataSource, jobId) == status, timeout, $"job {jobId} to be {status}", diagnostics);

    public static JsonElement Payload(object value) => JsonSerializer.SerializeToElement(value, JsonSerializerOptions.Web);

    private static Dictionary<string, string?> WithDefaults(string connectionString, IReadOnlyDictionary<string, string?>? settings)
    {
        var all = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = connectionString,
            ["Encryption:MasterKey"] = TestServers.EncryptionMasterKey,
            ["Logging:LogLevel:Default"] = "Warning",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }
        return all;
    }
}

/// <summary>
/// A closed gate for the test handler's <c>gate</c> payload field: a jobs_test_flags row "{gate}:{attempt}" held FOR
/// UPDATE. That attempt of a job given the gate writes its effect, then waits until <see cref="OpenAsync"/>. Waiting
/// handlers are visible as backends blocked by the gate's, so a test knows exactly where they are, without sleeping.
/// </summary>
internal sealed class JobGate : IAsyncDisposable
{
    private readonly NpgsqlDataSource _dataSource;
    private NpgsqlConnection? _connection;
    private NpgsqlTransaction? _transaction;

    private JobGate(NpgsqlDataSource dataSource, string name, NpgsqlConnection connection, NpgsqlTransaction transaction)
    {
        (_dataSource, Name, _connection, _transaction) = (dataSource, name, connection, transaction);
    }

    public string Name { get; }

    /// <summary>Closes the gate of attempt <paramref name="attempt"/> of jobs whose payload names <paramref name="gate"/>.</summary>
    public static async Task<JobGate> CloseAsync(NpgsqlDataSource dataSource, string gate, int attempt)
    {
        var name = $"{gate}:{attempt}";
        await JobsTestData.ExecuteAsync(dataSource, "INSERT INTO jobs_test_flags (name) VALUES ($1)", name);
        var connection = await dataSource.OpenConnectionAsync();
        var transaction = await connection.BeginTransactionAsync();
        await using (var hold = new NpgsqlCommand("SELECT 1 FROM jobs_test_flags WHERE name = $1 FOR UPDATE", connection, transaction))
        {
            hold.Parameters.Add(new() { Value = name });
            await hold.ExecuteNonQueryAsync();
        }
        return new JobGate(dataSource, name, connection, transaction);
    }

    /// <summary>The backends (handlers' transactions) waiting at the gate.</summary>
    public async Task<int> WaitingAsync()
    {
        var pid = _connection?.ProcessID ?? throw new InvalidOperationException("The gate is open.");
        return (int)await JobsTestData.CountAsync(_dataSource, "SELECT count(*) FROM pg_stat_activity WHERE $1 = ANY (pg_blocking_pids(pid))", pid);
    }

    public async Task OpenAsync()
    {
        if (_connection is null)
        {
            return;
        }
        await _transaction!.RollbackAsync();
        await _transaction.DisposeAsync();
        await _connection.DisposeAsync();
        (_connection, _transaction) = (null, null);
    }

    public async ValueTask DisposeAsync()
    {
        await OpenAsync();
        await JobsTestData.ExecuteAsync(_dataSource, "DELETE FROM jobs_test_flags WHERE name = $1", Name);
    }
}
