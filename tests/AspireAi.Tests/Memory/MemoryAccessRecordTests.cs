using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Memory;

/// <summary>
/// Memory:AccessRecordInterval: a use is written at most once per interval (consecutive turns mostly inject the same
/// memories, and each write of a wide memory row may insert into every index), while every current memory is still
/// reported current.
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
    public void The_interval_is_validated_on_start()
    {
        var errors = new MemoryOptions { AccessRecordInterval = TimeSpan.FromDays(2) }.Validate(new(new object())).ToList();
        Assert.Contains(errors, e => e.ErrorMessage!.Contains("AccessRecordInterval", StringComparison.Ordinal));
        Assert.DoesNotContain(new MemoryOptions { AccessRecordInterval = TimeSpan.Zero }.Validate(new(new object())),
            e => e.ErrorMessage!.Contains("AccessRecordInterval", StringComparison.Ordinal));
    }

    private async Task<(int Count, DateTimeOffset? At)> AccessAsync(Guid id)
    {
        await using var command = factory.DataSource.CreateCommand("SELECT access_count, last_accessed_at FROM memories WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.GetInt32(0), reader.IsDBNull(1) ? null : reader.GetFieldValue<DateTimeOffset>(1));
    }
}
