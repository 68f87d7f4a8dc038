using System.Text.Json;
using AspireAi.Core.Jobs;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Workers.Jobs;

/// <summary>
/// Enqueues recurring jobs. Each schedule has a row in job_schedules; when a slot is due, every Workers instance
/// may try to move next_run_at from that slot to the next one (compare-and-set), and only the one that succeeds
/// enqueues the slot's job, in the same transaction. Between slots nothing touches the database: due times are
/// kept in memory and re-read after each attempt. Missed slots (all instances down) are run once, not replayed.
/// </summary>
internal sealed partial class RecurringJobScheduler(
    NpgsqlDataSource dataSource,
    IJobQueue queue,
    IEnumerable<RecurringJobDefinition> registered,
    JobHandlerRegistry handlers,
    IOptions<JobsOptions> options,
    TimeProvider time,
    ILogger<RecurringJobScheduler> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        var schedules = Resolve(registered, options.Value.Recurring);
        if (options.Value.HandledTypes.Count > 0)
        {
            // A pool dedicated to some types schedules only their recurring jobs.
            schedules.RemoveAll(s => !handlers.Handles(s.Type));
        }
        if (schedules.Count == 0)
        {
            return;
        }
        var due = new Dictionary<string, DateTimeOffset>(StringComparer.Ordinal);
        using var timer = new PeriodicTimer(options.Value.SchedulerInterval, time);
        try
        {
            do
            {
                var now = time.GetUtcNow();
                foreach (var schedule in schedules)
                {
                    try
                    {
                        if (!due.TryGetValue(schedule.Name, out var next))
                        {
                            due[schedule.Name] = await RegisterAsync(schedule, now, stoppingToken).ConfigureAwait(false);
                        }
                        else if (next <= now)
                        {
                            due[schedule.Name] = await FireAsync(schedule, next, now, stoppingToken).ConfigureAwait(false);
                        }
                    }
                    catch (Exception ex) when (ex is NpgsqlException or TimeoutException && !stoppingToken.IsCancellationRequested)
                    {
                        // Tried again on the next tick.
                        LogScheduleFailed(ex, schedule.Name);
                    }
                    catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
                    {
                        // Anything else is a bug or a bad definition, but it must not end the loop: an exception leaving a
                        // BackgroundService stops the whole Workers host, and every job worker with it. Whatever the slot's
                        // transaction wrote rolled back, so the next tick tries the slot again.
                        LogScheduleCrashed(ex, schedule.Name);
                    }
                }
            }
            while (await timer.WaitForNextTickAsync(stoppingToken).ConfigureAwait(false));
        }
        catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
        {
        }
    }

    /// <summary>Recurring jobs registered in code, with configuration applied; plus those defined only in configuration.</summary>
    internal static List<RecurringJobDefinition> Resolve(IEnumerable<RecurringJobDefinition> registered, IReadOnlyDictionary<string, RecurringJobOptions> configured)
    {
        var result = new Dictionary<string, RecurringJobDefinition>(StringComparer.Ordinal);
        foreach (var definition in registered)
        {
            if (!result.TryAdd(definition.Name, definition))
            {
                throw new InvalidOperationException($"Recurring job '{definition.Name}' is registered more than once.");
            }
        }
        foreach (var (name, config) in configured)
        {
            if (!config.Enabled)
            {
                result.Remove(name);
                continue;
            }
            result.TryGetValue(name, out var inCode);
            var scheduleText = config.Schedule ?? inCode?.Schedule.Expression
                ?? throw new InvalidOperationException($"Recurring job '{name}' is configured without a schedule (Jobs:Recurring:{name}:Schedule).");
            result[name] = new RecurringJobDefinition(
                name,
                CronSchedule.Parse(scheduleText),
                config.Type ?? inCode?.Type ?? name,
                config.Payload is { } payload ? JsonElement.Parse(payload) : inCode?.Payload ?? new JobRequest(name).Payload);
        }
        return [.. result.Values.OrderBy(d => d.Name, StringComparer.Ordinal)];
    }

    /// <summary>Creates or updates the schedule's row; a changed schedule restarts from its next slot.</summary>
    private async Task<DateTimeOffset> RegisterAsync(RecurringJobDefinition schedule, DateTimeOffset now, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO job_schedules (name, schedule, job_type, next_run_at) VALUES ($1, $2, $3, $4)
            ON CONFLICT (name) DO UPDATE
            SET schedule = EXCLUDED.schedule, job_type = EXCLUDED.job_type, updated_at = now(),
                next_run_at = CASE WHEN job_schedules.schedule = EXCLUDED.schedule THEN job_schedules.next_run_at ELSE EXCLUDED.next_run_at END
            RETURNING next_run_at
            """);
        command.Parameters.Add(new() { Value = schedule.Name });
        command.Parameters.Add(new() { Value = schedule.Schedule.Expression });
        command.Parameters.Add(new() { Value = schedule.Type });
        command.Parameters.Add(new() { Value = schedule.Schedule.GetNextOccurrence(now) });
        var next = (DateTime)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        LogRegistered(schedule.Name, schedule.Schedule.Expression, schedule.Type);
        return new DateTimeOffset(next, TimeSpan.Zero);
    }

    /// <summary>Tries to take <paramref name="slot"/>; returns the schedule's next due time either way.</summary>
    private async Task<DateTimeOffset> FireAsync(RecurringJobDefinition schedule, DateTimeOffset slot, DateTimeOffset now, CancellationToken cancellationToken)
    {
        var next = schedule.Schedule.GetNextOccurrence(now > slot ? now : slot);
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var queueFull = false;
        await using (var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false))
        {
            if (await AdvanceAsync(connection, transaction, schedule.Name, slot, next, cancellationToken).ConfigureAwait(false))
            {
                try
                {
                    var job = await queue.EnqueueAsync(new JobRequest(schedule.Type, schedule.Payload) { DedupeKey = schedule.DedupeKeyFor(slot) },
                        connection, transaction, cancellationToken).ConfigureAwait(false);
                    await using (var record = new NpgsqlCommand("UPDATE job_schedules SET last_job_id = $2 WHERE name = $1", connection, transaction))
                    {
                        record.Parameters.Add(new() { Value = schedule.Name });
                        record.Parameters.Add(new() { Value = job.JobId });
                        await record.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    }
                    await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                    LogFired(schedule.Name, slot, job.JobId);
                    return next;
                }
                catch (JobQueueFullException ex)
                {
                    // Skip the slot rather than pile up behind a full queue; the next slot tries again.
                    LogSkipped(ex, schedule.Name, slot);
                    queueFull = true;
                }
            }
        }
        if (queueFull)
        {
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            if (await AdvanceAsync(connection, transaction, schedule.Name, slot, next, cancellationToken).ConfigureAwait(false))
            {
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return next;
            }
        }
        // Another instance took the slot (or the schedule changed): follow the row.
        await using var read = new NpgsqlCommand("SELECT next_run_at FROM job_schedules WHERE name = $1", connection);
        read.Parameters.Add(new() { Value = schedule.Name });
        return await read.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is DateTime stored
            ? new DateTimeOffset(stored, TimeSpan.Zero)
            : await RegisterAsync(schedule, now, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<bool> AdvanceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string name,
        DateTimeOffset slot, DateTimeOffset next, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            UPDATE job_schedules SET next_run_at = $3, last_run_at = $2, updated_at = now()
            WHERE name = $1 AND next_run_at = $2
            """, connection, transaction);
        command.Parameters.Add(new() { Value = name });
        command.Parameters.Add(new() { Value = slot.ToUniversalTime() });
        command.Parameters.Add(new() { Value = next.ToUniversalTime() });
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Recurring job {Name} scheduled '{Schedule}' ({JobType})")]
    private partial void LogRegistered(string name, string schedule, string jobType);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Recurring job {Name}: enqueued job {JobId} for slot {Slot:O}")]
    private partial void LogFired(string name, DateTimeOffset slot, long jobId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recurring job {Name}: slot {Slot:O} skipped, its queue is full")]
    private partial void LogSkipped(Exception exception, string name, DateTimeOffset slot);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Recurring job {Name} could not be scheduled; retrying")]
    private partial void LogScheduleFailed(Exception exception, string name);

    [LoggerMessage(Level = LogLevel.Error, Message = "Recurring job {Name} failed unexpectedly; retrying on the next tick")]
    private partial void LogScheduleCrashed(Exception exception, string name);
}
