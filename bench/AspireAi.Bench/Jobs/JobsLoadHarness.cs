using System.Diagnostics;
using System.Diagnostics.Metrics;
using System.Globalization;
using System.Runtime.InteropServices;
using AspireAi.LocalServers;
using AspireAi.Core.Data;
using AspireAi.Core.Jobs;
using AspireAi.Workers.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AspireAi.Bench.Jobs;

/// <summary>
/// Job throughput: N queued jobs with a trivial handler, drained by a Workers job host with 1, 2 and 4 slots
/// (and by 4 separate hosts of 1 slot), with the product's default batching (adaptive: no BatchSize set) and with
/// fixed batch sizes (<c>--batch default,1,20</c>), against a PostgreSQL this harness starts itself with durable settings
/// (fsync and synchronous_commit on). Reports jobs claimed and completed per second, and the p50/p95 of one claim
/// round trip. Also measures enqueue throughput (one job per transaction, 4 concurrent producers).
/// </summary>
public static class JobsLoadHarness
{
    private const string JobType = "bench.noop";

    public static async Task<int> RunAsync(string[] args)
    {
        var jobs = IntOption(args, "--jobs", 10_000);
        var workerCounts = (Option(args, "--workers") ?? "1,2,4").Split(',').Select(w => int.Parse(w, CultureInfo.InvariantCulture)).ToArray();
        var commitModes = (Option(args, "--synchronous-commit") ?? "true,false").Split(',').Select(bool.Parse).ToArray();
        // "default": no Jobs:Types:{type}:BatchSize, i.e. what the product does out of the box (adaptive batching).
        var batchSizes = (Option(args, "--batch") ?? "default,1,20").Split(',')
            .Select(b => b == "default" ? (int?)null : int.Parse(b, CultureInfo.InvariantCulture)).ToArray();

        var dataDirectory = Directory.CreateTempSubdirectory("aspireai-bench-postgres-").FullName;
        var postgres = new PostgresServer(new PostgresServerOptions
        {
            DataDirectory = Path.Combine(dataDirectory, "data"),
            Password = Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(16)),
            Port = NativeProcess.FreeTcpPort(),
            Durable = true,
        });
        try
        {
            Console.WriteLine($"Starting PostgreSQL 15 (durable: fsync=on, synchronous_commit=on) in {dataDirectory} ...");
            await postgres.StartAsync();
            await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
            await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
            Console.WriteLine($"{Environment.ProcessorCount} cores, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}");
            Console.WriteLine($"{jobs} jobs per run, handler '{JobType}' does nothing (the completion still writes the job and its attempt)");
            Console.WriteLine();

            var rows = new List<string>();
            var enqueue = await MeasureEnqueueAsync(postgres.ConnectionString, dataSource, Math.Min(jobs, 5_000), producers: 4);
            rows.Add($"| enqueue: 4 producers, 1 job per transaction | — | true | {enqueue:N0} | | | 1 | |");
            var pickup = await MeasurePickupAsync(postgres.ConnectionString, dataSource, samples: 200);
            rows.Add($"| pickup: enqueue → handler start, idle worker | 1 | true | | {pickup.P50:F2} ms | {pickup.P95:F2} ms | | |");
            foreach (var batch in batchSizes)
            {
                foreach (var synchronousCommit in commitModes)
                {
                    foreach (var workers in workerCounts)
                    {
                        rows.Add(await RunOnceAsync(postgres.ConnectionString, dataSource, jobs, hosts: 1, slots: workers, synchronousCommit, batch));
                    }
                    // The same four workers as separate processes would be: four claimers contending.
                    rows.Add(await RunOnceAsync(postgres.ConnectionString, dataSource, jobs, hosts: 4, slots: 1, synchronousCommit, batch));
                }
            }
            Console.WriteLine();
            Console.WriteLine("| workers | BatchSize | SynchronousCommit | jobs/s (claimed and completed) | claim p50 | claim p95 | jobs per commit | load avg |");
            Console.WriteLine("|---|---|---|---|---|---|---|---|");
            foreach (var row in rows)
            {
                Console.WriteLine(row);
            }
            return 0;
        }
        finally
        {
            await postgres.DisposeAsync();
            Directory.Delete(dataDirectory, recursive: true);
        }
    }

    private static async Task<string> RunOnceAsync(string connectionString, NpgsqlDataSource dataSource, int jobs, int hosts, int slots, bool synchronousCommit, int? batch)
    {
        await ResetAsync(dataSource);
        var completed = 0L;
        var claimLatencies = new List<double>();
        var allDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter.Name == JobsTelemetry.MeterName && instrument.Name is "aspireai.jobs.attempts" or "aspireai.jobs.claim.duration")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag is { Key: "job.outcome", Value: "succeeded" } && Interlocked.Add(ref completed, value) == jobs)
                {
                    allDone.TrySetResult();
                }
            }
        });
        listener.SetMeasurementEventCallback<double>((_, value, _, _) =>
        {
            lock (claimLatencies)
            {
                claimLatencies.Add(value);
            }
        });
        listener.Start();

        var workerHosts = new List<IHost>();
        for (var i = 0; i < hosts; i++)
        {
            workerHosts.Add(await StartWorkerHostAsync(connectionString, slots, synchronousCommit, batch));
        }
        lock (claimLatencies)
        {
            claimLatencies.Clear(); // start-up claims of an empty queue
        }

        // All jobs appear at once (one transaction, one notification): the clock runs from that commit to the last
        // completion. The table was analyzed empty (ResetAsync); analyzed again before the workers are told, the claim
        // is planned as in a steady state (autoanalyze would get there a little later): with the statistics of an
        // empty table it sorts every queued row of the type on each claim. The clock includes that ANALYZE.
        var stopwatch = Stopwatch.StartNew();
        await using (var insert = dataSource.CreateCommand($"INSERT INTO jobs (type, payload) SELECT '{JobType}', jsonb_build_object('n', n) FROM generate_series(1, $1) AS n"))
        {
            insert.Parameters.Add(new() { Value = jobs });
            await insert.ExecuteNonQueryAsync();
        }
        stopwatch.Restart();
        await using (var analyze = dataSource.CreateCommand($"ANALYZE jobs; SELECT pg_notify('{JobNotifications.Channel}', '{JobType}')"))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        await allDone.Task.WaitAsync(TimeSpan.FromMinutes(10));
        var elapsed = stopwatch.Elapsed;

        foreach (var host in workerHosts)
        {
            await host.StopAsync();
            host.Dispose();
        }
        var succeeded = await CountAsync(dataSource, "SELECT count(*) FROM jobs WHERE status = 'succeeded'");
        if (succeeded != jobs)
        {
            throw new InvalidOperationException($"Expected {jobs} succeeded jobs, found {succeeded}.");
        }
        double[] latencies;
        lock (claimLatencies)
        {
            latencies = [.. claimLatencies.Order()];
        }
        var rate = jobs / elapsed.TotalSeconds;
        var run = hosts == 1 ? $"{slots}" : $"{hosts} (separate hosts)";
        // The machine may be shared: say how busy it was, so that a bad run can be told from a bad design.
        var load = File.Exists("/proc/loadavg") ? File.ReadAllText("/proc/loadavg").Split(' ')[0] : "?";
        var commit = synchronousCommit ? "true" : "false";
        var batchLabel = batch?.ToString(CultureInfo.InvariantCulture) ?? "default (adaptive)";
        // A completed row's updated_at is now(), the start of the transaction that completed it: one per commit (one WAL flush).
        var transactions = await CountAsync(dataSource, "SELECT count(DISTINCT updated_at) FROM jobs WHERE status = 'succeeded'");
        Console.WriteLine($"workers {run,-20} batch {batchLabel,-18} synchronous commit {commit,-5}: {jobs} jobs in {elapsed.TotalSeconds:F2} s = {rate:N0} jobs/s; " +
            $"{latencies.Length} claims, p50 {Percentile(latencies, 0.50):F2} ms, p95 {Percentile(latencies, 0.95):F2} ms; " +
            $"{jobs / (double)transactions:F1} jobs per transaction; load average {load}");
        return $"| {run} | {batchLabel} | {commit} | {rate:N0} | {Percentile(latencies, 0.50):F2} ms | {Percentile(latencies, 0.95):F2} ms | {jobs / (double)transactions:F1} | {load} |";
    }

    private static async Task<double> MeasureEnqueueAsync(string connectionString, NpgsqlDataSource dataSource, int jobs, int producers)
    {
        await ResetAsync(dataSource);
        using var host = BuildHost(connectionString, new Dictionary<string, string?>(), workers: false);
        var queue = host.Services.GetRequiredService<IJobQueue>();
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, producers).Select(async p =>
        {
            for (var i = p; i < jobs; i += producers)
            {
                await queue.EnqueueAsync(new JobRequest("bench.enqueue", new { n = i }));
            }
        }));
        var rate = jobs / stopwatch.Elapsed.TotalSeconds;
        Console.WriteLine($"enqueue: {jobs} jobs, {producers} producers, one transaction each: {rate:N0} jobs/s");
        return rate;
    }

    /// <summary>
    /// Latency of an idle worker: from enqueue (its own transaction, committed) to the handler starting, one job at a
    /// time, so it covers the commit, the NOTIFY, the wake-up and the claim.
    /// </summary>
    private static async Task<(double P50, double P95)> MeasurePickupAsync(string connectionString, NpgsqlDataSource dataSource, int samples)
    {
        await ResetAsync(dataSource);
        using var host = await StartWorkerHostAsync(connectionString, 2, synchronousCommit: true, batch: null);
        var queue = host.Services.GetRequiredService<IJobQueue>();
        var latencies = new List<double>(samples);
        for (var i = 0; i < samples; i++)
        {
            var started = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            PickupHandler.Started = started;
            var stopwatch = Stopwatch.StartNew();
            await queue.EnqueueAsync(new JobRequest(PickupHandler.JobType, new { n = i }));
            await started.Task.WaitAsync(TimeSpan.FromSeconds(30));
            latencies.Add(stopwatch.Elapsed.TotalSeconds);
        }
        await host.StopAsync();
        double[] sorted = [.. latencies.Order()];
        Console.WriteLine($"pickup by an idle worker: {samples} jobs one at a time, p50 {Percentile(sorted, 0.5):F2} ms, p95 {Percentile(sorted, 0.95):F2} ms");
        return (Percentile(sorted, 0.5), Percentile(sorted, 0.95));
    }

    private sealed class PickupHandler : IJobHandler
    {
        public const string JobType = "bench.pickup";

        public static TaskCompletionSource? Started { get; set; }

        public string Type => JobType;

        public Task HandleAsync(JobContext context, CancellationToken cancellationToken)
        {
            Started?.TrySetResult();
            return Task.CompletedTask;
        }
    }

    private static async Task<IHost> StartWorkerHostAsync(string connectionString, int slots, bool synchronousCommit, int? batch)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = slots.ToString(CultureInfo.InvariantCulture),
            ["Jobs:SynchronousCommit"] = synchronousCommit.ToString(),
        };
        if (batch is { } size)
        {
            settings[$"Jobs:Types:{JobType}:BatchSize"] = size.ToString(CultureInfo.InvariantCulture);
        }
        var host = BuildHost(connectionString, settings, workers: true);
        await host.StartAsync();
        // Let the worker's first (empty) claim and its LISTEN happen before the jobs arrive.
        await Task.Delay(500);
        return host;
    }

    private static IHost BuildHost(string connectionString, Dictionary<string, string?> settings, bool workers)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        settings["ConnectionStrings:postgres"] = connectionString;
        settings["Logging:LogLevel:Default"] = "Warning";
        builder.Configuration.AddInMemoryCollection(settings);
        builder.AddDatabase();
        if (workers)
        {
            builder.AddJobWorkers();
            builder.Services.AddJobHandler<NoopHandler>();
            builder.Services.AddJobHandler<PickupHandler>();
        }
        else
        {
            builder.AddJobs();
        }
        return builder.Build();
    }

    private static async Task ResetAsync(NpgsqlDataSource dataSource)
    {
        await using (var truncate = dataSource.CreateCommand("TRUNCATE jobs, job_attempts, job_schedules"))
        {
            await truncate.ExecuteNonQueryAsync();
        }
        await using var vacuum = dataSource.CreateCommand("VACUUM ANALYZE jobs");
        await vacuum.ExecuteNonQueryAsync();
    }

    private static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql)
    {
        await using var command = dataSource.CreateCommand(sql);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static double Percentile(double[] sortedSeconds, double p) =>
        sortedSeconds.Length == 0 ? 0 : sortedSeconds[Math.Min(sortedSeconds.Length - 1, (int)Math.Ceiling(p * sortedSeconds.Length) - 1)] * 1000;

    private static string? Option(string[] args, string name)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
    }

    private static int IntOption(string[] args, string name, int fallback) =>
        Option(args, name) is { } value ? int.Parse(value, CultureInfo.InvariantCulture) : fallback;

    private sealed class NoopHandler : IJobHandler
    {
        public string Type => JobType;

        public Task HandleAsync(JobContext context, CancellationToken cancellationToken) => Task.CompletedTask;
    }
}
