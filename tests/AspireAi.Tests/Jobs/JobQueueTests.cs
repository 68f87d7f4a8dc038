using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspireAi.Tests.Jobs;

/// <summary>The enqueue side: the jobs table as a transactional outbox, wake-ups on commit, dedupe, capacity.</summary>
public sealed class JobQueueTests
{
    [Fact]
    public async Task Enqueue_rolls_back_with_its_transaction_and_wakes_workers_only_on_commit()
    {
        var servers = await TestServers.GetAsync();
        using var host = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
        var queue = host.Services.GetRequiredService<IJobQueue>();
        var (rolledBack, committed) = (JobsTestData.NewType(), JobsTestData.NewType());

        // The database is shared: other tests' jobs (chat exchanges enqueue memory.extract) notify on the same
        // channel, so only this test's two job types count.
        await using var listener = await servers.DataSource.OpenConnectionAsync();
        var notified = new List<string>();
        listener.Notification += (_, e) =>
        {
            if (e.Payload == rolledBack || e.Payload == committed)
            {
                lock (notified) { notified.Add(e.Payload); }
            }
        };
        await using (var listen = new NpgsqlCommand($"LISTEN {JobNotifications.Channel}", listener))
        {
            await listen.ExecuteNonQueryAsync();
        }

        await using var connection = await servers.DataSource.OpenConnectionAsync();
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            var result = await queue.EnqueueAsync(new JobRequest(rolledBack, new { n = 1 }), connection, transaction);
            Assert.True(result.Created);
            // Visible inside the transaction, like the rest of the caller's work.
            Assert.Equal(1, await CountInAsync(connection, transaction, rolledBack));
            await transaction.RollbackAsync();
        }
        Assert.Equal(0, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1", rolledBack));

        long id;
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            id = (await queue.EnqueueAsync(new JobRequest(committed, new { n = 2 }), connection, transaction)).JobId;
            await listener.WaitAsync(TimeSpan.FromMilliseconds(300));
            lock (notified)
            {
                Assert.Empty(notified); // not before commit
            }
            await transaction.CommitAsync();
        }
        var deadline = DateTime.UtcNow.AddSeconds(5);
        while (DateTime.UtcNow < deadline && !NotifiedOf(committed))
        {
            await listener.WaitAsync(TimeSpan.FromMilliseconds(200));
        }
        lock (notified)
        {
            Assert.Equal([committed], notified);
        }
        Assert.Equal(JobStatus.Queued, await JobsTestData.StatusAsync(servers.DataSource, id));

        bool NotifiedOf(string type)
        {
            lock (notified)
            {
                return notified.Contains(type);
            }
        }
    }

    [Fact]
    public async Task A_dedupe_key_makes_the_enqueue_idempotent_while_the_job_is_unfinished()
    {
        var servers = await TestServers.GetAsync();
        using var host = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
        var queue = host.Services.GetRequiredService<IJobQueue>();
        var administration = host.Services.GetRequiredService<JobAdministration>();
        var type = JobsTestData.NewType();

        var first = await queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-1" });
        var again = await queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-1" });
        var other = await queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-2" });
        Assert.Equal((first.JobId, true), (first.JobId, first.Created));
        Assert.Equal((first.JobId, false), (again.JobId, again.Created));
        Assert.True(other.Created);

        // Once the job has finished (here: cancelled), the key is free again.
        Assert.Equal(JobChangeOutcome.Changed, (await administration.CancelAsync(first.JobId, default)).Outcome);
        var later = await queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-1" });
        Assert.True(later.Created);
        Assert.NotEqual(first.JobId, later.JobId);
        // Replaying the finished one now would make two unfinished jobs with the key: refused.
        Assert.Equal(JobChangeOutcome.DuplicateActive, (await administration.ReplayAsync(first.JobId, default)).Outcome);
    }

    [Fact]
    public async Task A_duplicate_of_an_unfinished_job_is_answered_with_it_even_while_its_queue_is_full()
    {
        var servers = await TestServers.GetAsync();
        var type = JobsTestData.NewType();
        using var host = JobsTestData.CreateQueueHost(servers.PostgresConnectionString, new Dictionary<string, string?>
        {
            [$"Jobs:Types:{type}:MaxQueuedDepth"] = "1",
        });
        var queue = host.Services.GetRequiredService<IJobQueue>();

        var first = await queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-1" });
        var again = await queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-1" });

        Assert.Equal((first.JobId, false), (again.JobId, again.Created));
        await Assert.ThrowsAsync<JobQueueFullException>(() => queue.EnqueueAsync(new JobRequest(type) { DedupeKey = "exchange-2" }));
        Assert.Equal(1, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1", type));
    }

    [Fact]
    public async Task A_full_queue_refuses_the_enqueue_before_the_callers_transaction_commits_so_nothing_is_half_written()
    {
        var servers = await TestServers.GetAsync();
        var type = JobsTestData.NewType();
        using var host = JobsTestData.CreateQueueHost(servers.PostgresConnectionString, new Dictionary<string, string?>
        {
            [$"Jobs:Types:{type}:MaxQueuedDepth"] = "2",
            [$"Jobs:Types:{type}:RetryAfter"] = "00:00:07",
        });
        var queue = host.Services.GetRequiredService<IJobQueue>();
        await queue.EnqueueAsync(new JobRequest(type));
        await queue.EnsureCapacityAsync(type);
        await queue.EnqueueAsync(new JobRequest(type));

        var precheck = await Assert.ThrowsAsync<JobQueueFullException>(() => queue.EnsureCapacityAsync(type));
        Assert.Equal((type, 2L, 2L, TimeSpan.FromSeconds(7)), (precheck.JobType, precheck.QueuedDepth, precheck.MaxQueuedDepth, precheck.RetryAfter));

        // A feature's own write and its job in one transaction: the refusal throws before commit, both roll back.
        await using var connection = await servers.DataSource.OpenConnectionAsync();
        await using (var create = new NpgsqlCommand("CREATE TEMP TABLE feature_rows (id int)", connection))
        {
            await create.ExecuteNonQueryAsync();
        }
        await Assert.ThrowsAsync<JobQueueFullException>(async () =>
        {
            await using var transaction = await connection.BeginTransactionAsync();
            await using (var write = new NpgsqlCommand("INSERT INTO feature_rows VALUES (1)", connection, transaction))
            {
                await write.ExecuteNonQueryAsync();
            }
            await queue.EnqueueAsync(new JobRequest(type), connection, transaction);
            await transaction.CommitAsync();
        });
        await using (var count = new NpgsqlCommand("SELECT count(*) FROM feature_rows", connection))
        {
            Assert.Equal(0L, await count.ExecuteScalarAsync());
        }
        Assert.Equal(2, await JobsTestData.CountAsync(servers.DataSource, "SELECT count(*) FROM jobs WHERE type = $1", type));
    }

    private static async Task<long> CountInAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, string type)
    {
        await using var command = new NpgsqlCommand("SELECT count(*) FROM jobs WHERE type = $1", connection, transaction);
        command.Parameters.Add(new() { Value = type });
        return (long)(await command.ExecuteScalarAsync())!;
    }
}
