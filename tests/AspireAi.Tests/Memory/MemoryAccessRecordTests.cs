using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Jobs;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;

namespace AspireAi.Tests.Memory;

/// <summary>
/// Memory:AccessRecordInterval: a use is written at most once per interval (consecutive turns mostly inject the same
/// memories, and each write of a wide memory row may insert into every index), while every current memory is still
/// reported current. With no session memory from Redis among a turn's memories, the uses are written after the turn
/// (MemoryAccessRecorder).
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryAccessRecordTests(ApiFactory factory)
{
    [Fact]
    public async Task A_use_within_the_interval_is_not_written_again_but_the_memory_is_still_current()
    {
        var (client, _) = await MemoryTestUsers.CreateUserOnAsync(factory, factory.DataSource);
        var id = (await MemoryTestData.PostMemoryAsync(client, new { text = "Keeps bees on the roof", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var gone = (await MemoryTestData.PostMemoryAsync(client, new { text = "Plays the oboe on Sundays", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        await using (var invalidate = factory.DataSource.CreateCommand("UPDATE memories SET invalidated_at = now(), invalidated_reason = 'retracted' WHERE id = $1"))
        {
            invalidate.Parameters.Add(new() { Value = gone });
            await invalidate.ExecuteNonQueryAsync();
        }
        var store = factory.Services.GetRequiredService<MemoryStore>();
        var interval = TimeSpan.FromMinutes(1);

        Assert.Equal([id], await store.MarkAccessedAsync([id, gone, Guid.NewGuid()], interval, CancellationToken.None));
        var (count, first) = await AccessAsync(id);
        Assert.Equal(1, count);

        // Within the interval: reported current, not written.
        Assert.Equal([id], await store.MarkAccessedAsync([id, gone], interval, CancellationToken.None));
        Assert.Equal((1, first), await AccessAsync(id));

        // Once the recorded use is older than the interval, the next use is written.
        await using (var age = factory.DataSource.CreateCommand("UPDATE memories SET last_accessed_at = now() - interval '2 minutes' WHERE id = $1"))
        {
            age.Parameters.Add(new() { Value = id });
            await age.ExecuteNonQueryAsync();
        }
        Assert.Equal([id], await store.MarkAccessedAsync([id], interval, CancellationToken.None));
        var (aged, agedAt) = await AccessAsync(id);
        Assert.Equal(2, aged);
        Assert.True(agedAt > DateTimeOffset.UtcNow.AddMinutes(-1), $"last_accessed_at {agedAt:O} was not written");

        // An interval of 0 writes every use.
        Assert.Equal([id], await store.MarkAccessedAsync([id], TimeSpan.Zero, CancellationToken.None));
        Assert.Equal([id], await store.MarkAccessedAsync([id], TimeSpan.Zero, CancellationToken.None));
        Assert.Equal(4, (await AccessAsync(id)).Count);
        Assert.Equal(0, (await AccessAsync(gone)).Count);
    }

    [Fact]
    public async Task Uses_recorded_after_the_turn_are_merged_into_one_write_and_a_stopped_Postgres_drops_them_without_stopping_the_recorder()
    {
        var postgres = await TestServers.StartPrivatePostgresAsync();
        using var logs = new CapturingLoggerProvider();
        await using var configured = factory.WithSettings(new Dictionary<string, string?> { ["ConnectionStrings:postgres"] = postgres.ConnectionString });
        await using var api = configured.WithHost(b => b.ConfigureLogging(l => l.AddProvider(logs)));
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, _) = await MemoryTestUsers.CreateUserOnAsync(api, dataSource);
        var bees = (await MemoryTestData.PostMemoryAsync(client, new { text = "Keeps bees on the roof", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var oboe = (await MemoryTestData.PostMemoryAsync(client, new { text = "Plays the oboe on Sundays", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var recorder = api.Services.GetRequiredService<MemoryAccessRecorder>();

        // Two turns using the bees memory a moment apart count once, as they would within the interval anyway.
        recorder.Record([bees, oboe]);
        recorder.Record([bees]);
        await WaitUntilAsync(async () => (await AccessAsync(dataSource, bees)).Count == 1 && (await AccessAsync(dataSource, oboe)).Count == 1,
            "the recorded uses to be written");
        await Task.Delay(300);
        Assert.Equal(1, (await AccessAsync(dataSource, bees)).Count);

        // Postgres down: the write fails, is logged and dropped; nothing is thrown at the caller.
        await postgres.StopAsync();
        recorder.Record([oboe]);
        await WaitUntilAsync(() => Task.FromResult(logs.Entries.Any(e => e.Level == LogLevel.Warning
            && e.Message.Contains("Could not record the uses of 1 memories", StringComparison.Ordinal))), "the failed write to be logged");

        // Back up: the recorder still runs (its pooled connections died with the server, so a write may fail once more).
        await postgres.StartAsync();
        dataSource.Clear();
        await using (var age = dataSource.CreateCommand("UPDATE memories SET last_accessed_at = now() - interval '2 minutes' WHERE id = $1"))
        {
            age.Parameters.Add(new() { Value = bees });
            await age.ExecuteNonQueryAsync();
        }
        await WaitUntilAsync(async () =>
        {
            recorder.Record([bees]);
            await Task.Delay(100);
            return (await AccessAsync(dataSource, bees)).Count == 2;
        }, "a use to be written after Postgres came back");
    }

    [Fact]
    public void The_interval_is_validated_on_start()
    {
        var errors = new MemoryOptions { AccessRecordInterval = TimeSpan.FromDays(2) }.Validate(new(new object())).ToList();
        Assert.Contains(errors, e => e.ErrorMessage!.Contains("AccessRecordInterval", StringComparison.Ordinal));
        Assert.DoesNotContain(new MemoryOptions { AccessRecordInterval = TimeSpan.Zero }.Validate(new(new object())),
            e => e.ErrorMessage!.Contains("AccessRecordInterval", StringComparison.Ordinal));
    }

    private Task<(int Count, DateTimeOffset? At)> AccessAsync(Guid id) => AccessAsync(factory.DataSource, id);

    private static Task WaitUntilAsync(Func<Task<bool>> condition, string what) =>
        JobsTestData.WaitUntilAsync(condition, TimeSpan.FromSeconds(20), what);

    private static async Task<(int Count, DateTimeOffset? At)> AccessAsync(NpgsqlDataSource dataSource, Guid id)
    {
        await using var command = dataSource.CreateCommand("SELECT access_count, last_accessed_at FROM memories WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }
}
