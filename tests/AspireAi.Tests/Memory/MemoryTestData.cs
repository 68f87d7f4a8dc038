using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Core.Memory;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

/// <summary>The memory tests share the database with heavy jobs (purge, cap) and run one class at a time.</summary>
[CollectionDefinition(Name)]
public sealed class MemoryCollection : ICollectionFixture<ApiFactory>
{
    public const string Name = "Memory";
}

/// <summary>A chat reply, as the JSON answer of the messages endpoint gives it.</summary>
internal sealed record ChatAnswer(string Content, IReadOnlyList<Guid> MemoryIds, IReadOnlyList<string> ToolNames, IReadOnlyList<string?> ToolResults);

internal sealed record StoredMemory(Guid Id, string Text, string Type, string Scope, DateTimeOffset? InvalidatedAt, string? InvalidatedReason);

internal static class MemoryTestData
{
    public static async Task<ChatAnswer> ChatAsync(HttpClient client, Guid conversationId, string content)
    {
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversationId, new { content }, stream: false));
        Assert.True(response.StatusCode == HttpStatusCode.OK, await response.Content.ReadAsStringAsync());
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();
        var tools = reply.GetProperty("toolCalls").EnumerateArray().ToList();
        return new ChatAnswer(
            reply.GetProperty("content").GetString()!,
            [.. reply.GetProperty("memoryIds").EnumerateArray().Select(e => e.GetGuid())],
            [.. tools.Select(t => t.GetProperty("name").GetString()!)],
            [.. tools.Select(t => t.GetProperty("result").GetString())]);
    }

    /// <summary>A new conversation, one message, and the extraction it enqueued run to completion.</summary>
    public static async Task<ChatAnswer> SayAsync(ApiFactory factory, HttpClient client, Guid userId, string content)
    {
        var conversation = await ChatTestData.CreateConversationAsync(client);
        var answer = await ChatAsync(client, conversation, content);
        await RunExtractionsAsync(factory, userId);
        return answer;
    }

    /// <summary>
    /// Runs the user's queued memory.extract jobs in process with the handler the Workers run, each in its own
    /// transaction with the job's completion (as the worker does), then waits until no source of the user is
    /// pending: a Workers process started by another test may have claimed one first.
    /// </summary>
    public static async Task RunExtractionsAsync(ApiFactory factory, Guid userId)
    {
        var jobs = new List<(long Id, JsonElement Payload)>();
        await using (var command = factory.DataSource.CreateCommand("""
            SELECT j.id, j.payload::text FROM jobs j JOIN memory_sources s ON s.id = (j.payload->>'sourceId')::uuid
            WHERE j.type = 'memory.extract' AND j.status = 'queued' AND s.user_id = $1
            ORDER BY j.id
            """))
        {
            command.Parameters.Add(new() { Value = userId });
            await using var reader = await command.ExecuteReaderAsync();
            while (await reader.ReadAsync())
            {
                jobs.Add((reader.GetInt64(0), JsonElement.Parse(reader.GetString(1))));
            }
        }
        foreach (var (id, payload) in jobs)
        {
            await RunJobAsync<MemoryExtractionJob>(factory.Services, factory.DataSource, payload, id);
        }
        for (var waited = 0; await CountAsync(factory.DataSource,
            "SELECT count(*) FROM memory_sources WHERE user_id = $1 AND status IN ('pending', 'queued')", userId) > 0; waited += 100)
        {
            Assert.True(waited < 15_000, "Memory extraction did not finish within 15 s.");
            await Task.Delay(100);
        }
    }

    /// <summary>
    /// Runs one job with <typeparamref name="THandler"/> inside a transaction that also completes it; a job another
    /// worker holds (row locked) is left alone. <paramref name="jobId"/> null runs a job that is not in the table.
    /// </summary>
    public static Task RunJobAsync<THandler>(IServiceProvider services, NpgsqlDataSource dataSource, JsonElement payload, long? jobId = null)
        where THandler : class, IJobHandler =>
        RunJobAsync(services, dataSource, payload, provider => ActivatorUtilities.CreateInstance<THandler>(provider), jobId);

    /// <inheritdoc cref="RunJobAsync{THandler}(IServiceProvider, NpgsqlDataSource, JsonElement, long?)"/>
    public static async Task RunJobAsync(IServiceProvider services, NpgsqlDataSource dataSource, JsonElement payload,
        Func<IServiceProvider, IJobHandler> create, long? jobId = null)
    {
        await using var scope = services.CreateAsyncScope();
        var handler = create(scope.ServiceProvider);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        if (jobId is { } id)
        {
            await using var claim = new NpgsqlCommand("SELECT 1 FROM jobs WHERE id = $1 AND status = 'queued' FOR UPDATE SKIP LOCKED", connection, transaction);
            claim.Parameters.Add(new() { Value = id });
            if (await claim.ExecuteScalarAsync() is null)
            {
                return;
            }
        }
        var now = DateTimeOffset.UtcNow;
        var context = new JobContext(new JobInfo(jobId ?? 0, handler.Type, 1, 5, 0, null, now, now), payload, connection, transaction,
            "memory-tests", scope.ServiceProvider.GetRequiredService<IJobQueue>());
        await handler.HandleAsync(context, CancellationToken.None);
        if (jobId is { } done)
        {
            await using var complete = new NpgsqlCommand("""
                UPDATE jobs SET status = 'succeeded', attempts = attempts + 1, finished_at = now(), updated_at = now() WHERE id = $1
                """, connection, transaction);
            complete.Parameters.Add(new() { Value = done });
            await complete.ExecuteNonQueryAsync();
        }
        await transaction.CommitAsync();
        foreach (var action in context.CommittedActions)
        {
            await action(CancellationToken.None);
        }
    }

    public static Task RunMaintenanceAsync<THandler>(ApiFactory factory) where THandler : class, IJobHandler =>
        RunJobAsync<THandler>(factory.Services, factory.DataSource, JsonElement.Parse("{}"));

    public static async Task<List<StoredMemory>> MemoriesAsync(NpgsqlDataSource dataSource, Guid userId, bool currentOnly = true)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT id, text, key_id, text_ct, type, scope, invalidated_at, invalidated_reason FROM memories
            WHERE user_id = $1 {(currentOnly ? "AND invalidated_at IS NULL" : "")}
            ORDER BY created_at, id
            """);
        command.Parameters.Add(new() { Value = userId });
        var rows = new List<StoredMemory>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new StoredMemory(reader.GetGuid(0), (await TestCipher.OpenAsync(dataSource, reader, 1, EncryptedField.MemoryText))!, reader.GetString(4),
                reader.GetString(5), reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6), reader.IsDBNull(7) ? null : reader.GetString(7)));
        }
        return rows;
    }

    /// <summary>The current text of one memory (decrypted), or null when it is not current or not the user's.</summary>
    public static async Task<string?> CurrentTextAsync(NpgsqlDataSource dataSource, Guid memoryId, Guid? userId = null)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT text, key_id, text_ct FROM memories WHERE id = $1 AND invalidated_at IS NULL AND ($2::uuid IS NULL OR user_id = $2)");
        command.Parameters.Add(new() { Value = memoryId });
        command.Parameters.Add(new() { Value = (object?)userId ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        await using var reader = await command.ExecuteReaderAsync();
        return await reader.ReadAsync() ? await TestCipher.OpenAsync(dataSource, reader, 0, EncryptedField.MemoryText) : null;
    }

    /// <summary>Every text (old and new, decrypted) of the user's memory history rows.</summary>
    public static async Task<List<string>> HistoryTextsAsync(NpgsqlDataSource dataSource, Guid userId)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT old_text, key_id, old_text_ct, new_text, key_id, new_text_ct FROM memory_history WHERE owner_user_id = $1 ORDER BY id");
        command.Parameters.Add(new() { Value = userId });
        var texts = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            foreach (var ordinal in new[] { 0, 3 })
            {
                if (await TestCipher.OpenAsync(dataSource, reader, ordinal, EncryptedField.MemoryText) is { } text)
                {
                    texts.Add(text);
                }
            }
        }
        return texts;
    }

    /// <summary>History operations of a memory's lineage, oldest first, as "OPERATION:actor".</summary>
    public static async Task<List<string>> HistoryAsync(NpgsqlDataSource dataSource, Guid memoryId)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT operation || ':' || actor FROM memory_history WHERE lineage_id = (SELECT lineage_id FROM memories WHERE id = $1) ORDER BY id
            """);
        command.Parameters.Add(new() { Value = memoryId });
        var rows = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(reader.GetString(0));
        }
        return rows;
    }

    /// <summary>The user's queued memory.extract job (exactly one).</summary>
    public static async Task<(long Id, JsonElement Payload)> ScalarJobAsync(NpgsqlDataSource dataSource, Guid userId)
    {
        await using var command = dataSource.CreateCommand("""
            SELECT j.id, j.payload::text FROM jobs j JOIN memory_sources s ON s.id = (j.payload->>'sourceId')::uuid
            WHERE j.type = 'memory.extract' AND j.status = 'queued' AND s.user_id = $1
            """);
        command.Parameters.Add(new() { Value = userId });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "No queued memory.extract job.");
        var job = (reader.GetInt64(0), JsonElement.Parse(reader.GetString(1)));
        Assert.False(await reader.ReadAsync(), "More than one queued memory.extract job.");
        return job;
    }

    public static Task<long> CountAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters) =>
        ChatTestData.CountAsync(dataSource, sql, parameters);

    public static async Task<JsonElement> PostMemoryAsync(HttpClient client, object body, HttpStatusCode expected = HttpStatusCode.Created)
    {
        using var response = await client.PostAsJsonAsync("/v1/memories", body);
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static async Task<JsonElement> PutMemoryAsync(HttpClient client, Guid id, object body)
    {
        using var response = await client.PutAsJsonAsync($"/v1/memories/{id}", body);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{(int)response.StatusCode}: {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    public static async Task<JsonElement> GetJsonAsync(HttpClient client, string path)
    {
        using var response = await client.GetAsync(path);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }
}
