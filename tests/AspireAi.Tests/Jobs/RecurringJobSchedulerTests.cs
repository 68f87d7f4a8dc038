using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using AspireAi.Workers.Jobs;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.Jobs;

/// <summary>The scheduler on its own, with a queue that misbehaves (the schedule rows are real).</summary>
public sealed class RecurringJobSchedulerTests
{
    [Fact]
    public async Task An_unexpected_exception_does_not_end_the_scheduler_and_the_slot_is_tried_again_on_the_next_tick()
    {
        var servers = await TestServers.GetAsync();
        var name = $"test.recurring.{Guid.NewGuid():N}";
        var options = Options.Create(new JobsOptions { SchedulerInterval = TimeSpan.FromMilliseconds(100) });
        await using var services = new ServiceCollection().BuildServiceProvider();
        var registry = new JobHandlerRegistry([], services.GetRequiredService<IServiceScopeFactory>(), options);
        var definition = new RecurringJobDefinition(name, CronSchedule.Parse("@every 1s"), name, JobsTestData.Payload(new { }));
        var queue = new FailingOnceQueue();
        using var scheduler = new RecurringJobScheduler(servers.DataSource, queue, [definition], registry, options, TimeProvider.System,
            NullLogger<RecurringJobScheduler>.Instance);
        try
        {
            await scheduler.StartAsync(CancellationToken.None);
            await JobsTestData.WaitUntilAsync(() => Task.FromResult(!queue.Enqueued.IsEmpty), TimeSpan.FromSeconds(30),
                "the scheduler to enqueue after the failure", () => $"calls: {queue.Calls}, scheduler: {scheduler.ExecuteTask?.Status}");
            Assert.False(scheduler.ExecuteTask!.IsCompleted, "the scheduler loop ended");
            // The failed try rolled back its slot, so the next tick enqueued that same slot.
            Assert.Equal(queue.FailedDedupeKey, queue.Enqueued.First());
        }
        finally
        {
            await scheduler.StopAsync(CancellationToken.None);
            await JobsTestData.ExecuteAsync(servers.DataSource, "DELETE FROM job_schedules WHERE name = $1", name);
        }
        Assert.True(scheduler.ExecuteTask.IsCompletedSuccessfully, "the scheduler did not stop cleanly");
    }

    /// <summary>Throws an exception the scheduler has no specific handling for on the first enqueue, then records them.</summary>
    private sealed class FailingOnceQueue : IJobQueue
    {
        private int _calls;

        public int Calls => Volatile.Read(ref _calls);

        public string? FailedDedupeKey { get; private set; }

        public System.Collections.Concurrent.ConcurrentQueue<string?> Enqueued { get; } = new();

        public Task<JobEnqueueResult> EnqueueAsync(JobRequest request, NpgsqlConnection connection, NpgsqlTransaction transaction,
            CancellationToken cancellationToken = default)
        {
            if (Interlocked.Increment(ref _calls) == 1)
            {
                FailedDedupeKey = request.DedupeKey;
                throw new InvalidOperationException("A bug in the queue.");
            }
            Enqueued.Enqueue(request.DedupeKey);
            return Task.FromResult(new JobEnqueueResult(-1, Created: true));
        }

        public Task<JobEnqueueResult> EnqueueAsync(JobRequest request, CancellationToken cancellationToken = default) =>
            throw new NotSupportedException();

        public Task EnsureCapacityAsync(string type, CancellationToken cancellationToken = default) => Task.CompletedTask;
    }
}
