using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using AspireAi.Workers.Memory;

namespace AspireAi.Bench.Memory;

/// <summary>
/// Prompt tokens per turn over a long conversation (<c>--turns</c>, default 300), full history against memory:
/// each turn's user message (a statement about the user, a question, or a task) gets an assistant reply of realistic
/// length; after the turn the exchange goes through the real extraction and consolidation (offline model), and before
/// it the real retrieval builds the memories block (token budget 200). Prompts are counted with TokenCounter,
/// the estimate the chat uses for budgets.
/// </summary>
internal static class MemoryTokenHarness
{
    public static async Task<int> RunAsync(string[] args)
    {
        var turns = MemorySearchHarness.Int(args, "--turns", 300);
        var window = MemorySearchHarness.Int(args, "--window", 2);
        await using var stack = await MemoryBenchStack.StartAsync(null, keep: false);
        var services = stack.Services;
        var dataSource = stack.DataSource;
        var orgId = Guid.CreateVersion7();
        var userId = Guid.CreateVersion7();
        await using (var batch = dataSource.CreateBatch())
        {
            var org = new NpgsqlBatchCommand("INSERT INTO orgs (id, name) VALUES ($1, $2)");
            org.Parameters.Add(new() { Value = orgId });
            org.Parameters.Add(new() { Value = UserAccounts.DefaultOrgName });
            var user = new NpgsqlBatchCommand("INSERT INTO users (id, org_id, email, display_name, password_hash, role) VALUES ($1, $2, 'tokens@memory.bench', 'Sam', 'x', 'user')");
            user.Parameters.Add(new() { Value = userId });
            user.Parameters.Add(new() { Value = orgId });
            batch.BatchCommands.Add(org);
            batch.BatchCommands.Add(user);
            await batch.ExecuteNonQueryAsync();
        }
        var prompt = (await services.GetRequiredService<PromptStore>().GetActiveAsync("chat.system", CancellationToken.None))!;
        var system = new ChatMessage(ChatRole.System, prompt.Render(new Dictionary<string, string> { ["date"] = "2026-01-01", ["user_name"] = "Sam" }));
        var provider = ActivatorUtilities.CreateInstance<MemoryContextProvider>(services);
        var conversationId = Guid.CreateVersion7();
        var generator = new SyntheticMemories(seed: 300);
        var random = new Random(301);
        var history = new List<ChatMessage>();
        long fullTotal = 0, memoryTotal = 0, windowTotal = 0, injectedTotal = 0;
        int fullLast = 0, memoryLast = 0, windowLast = 0, turnsWithMemories = 0;
        var retrieval = new List<double>();
        var extraction = new List<double>();

        for (var turn = 1; turn <= turns; turn++)
        {
            var userText = generator.UserMessage(turn);
            var user = new ChatMessage(ChatRole.User, userText);
            var full = TokenCounter.Count([system, .. history, user]);

            var started = Stopwatch.GetTimestamp();
            var context = await provider.GetContextAsync(new ChatContextRequest(userId, orgId, "default", conversationId, userText), CancellationToken.None);
            retrieval.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            List<ChatMessage> augmented = context is null ? [system, user] : [system, new ChatMessage(ChatRole.System, context.Text), user];
            var memory = TokenCounter.Count(augmented);
            var withWindow = TokenCounter.Count([.. augmented.SkipLast(1), .. history.TakeLast(2 * window), user]);
            injectedTotal += context is null ? 0 : TokenCounter.Count(context.Text);
            turnsWithMemories += context is null ? 0 : 1;
            (fullTotal, memoryTotal, windowTotal) = (fullTotal + full, memoryTotal + memory, windowTotal + withWindow);
            (fullLast, memoryLast, windowLast) = (full, memory, withWindow);

            var reply = generator.Reply(random.Next(8, 16));
            history.Add(user);
            history.Add(new ChatMessage(ChatRole.Assistant, reply));
            started = Stopwatch.GetTimestamp();
            await ExtractAsync(services, dataSource, orgId, userId, conversationId, userText, reply);
            extraction.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }

        await using var count = dataSource.CreateCommand("SELECT count(*) FILTER (WHERE invalidated_at IS NULL), count(*) FROM memories WHERE user_id = $1");
        count.Parameters.Add(new() { Value = userId });
        await using var reader = await count.ExecuteReaderAsync();
        await reader.ReadAsync();
        var (current, versions) = (reader.GetInt64(0), reader.GetInt64(1));

        double Reduction(long part) => 1 - (part / (double)fullTotal);
        Console.WriteLine();
        Console.WriteLine($"| prompt tokens per turn, {turns} turns | mean | at turn {turns} | fewer than full history |");
        Console.WriteLine("|---|---|---|---|");
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| full history | {fullTotal / (double)turns:F0} | {fullLast} | — |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| memory block (≤ 200 tokens) + current message | {memoryTotal / (double)turns:F0} | {memoryLast} | {Reduction(memoryTotal):P1} |"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"| memory block + last {window} exchanges + current message | {windowTotal / (double)turns:F0} | {windowLast} | {Reduction(windowTotal):P1} |"));
        Console.WriteLine();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Memories: {current} current ({versions} versions) after {turns} turns; injected on {turnsWithMemories} turns, {injectedTotal / (double)Math.Max(1, turnsWithMemories):F0} tokens on average when injected."));
        retrieval.Sort();
        extraction.Sort();
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"Retrieval per turn p50 {retrieval[retrieval.Count / 2]:F1} ms; extraction + consolidation per exchange p50 {extraction[extraction.Count / 2]:F1} ms (offline model)."));
        return 0;
    }

    // What the chat observer and the Workers do after an exchange: a source row, then the extraction job.
    private static async Task ExtractAsync(IServiceProvider services, NpgsqlDataSource dataSource, Guid orgId, Guid userId, Guid conversationId,
        string userText, string reply)
    {
        var sourceId = Guid.CreateVersion7();
        await using (var insert = dataSource.CreateCommand("""
            INSERT INTO memory_sources (id, kind, org_id, user_id, session_id, scope, input, status)
            VALUES ($1, 'api', $2, $3, $4, 'user', $5::jsonb, 'queued')
            """))
        {
            insert.Parameters.Add(new() { Value = sourceId });
            insert.Parameters.Add(new() { Value = orgId });
            insert.Parameters.Add(new() { Value = userId });
            insert.Parameters.Add(new() { Value = conversationId.ToString("D") });
            insert.Parameters.Add(new() { Value = JsonSerializer.Serialize(new[] { new { role = "user", content = userText }, new { role = "assistant", content = reply } }) });
            await insert.ExecuteNonQueryAsync();
        }
        await using var scope = services.CreateAsyncScope();
        var handler = ActivatorUtilities.CreateInstance<MemoryExtractionJob>(scope.ServiceProvider);
        await using var connection = await dataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var now = DateTimeOffset.UtcNow;
        await handler.HandleAsync(new JobContext(new JobInfo(0, MemoryJobs.Extract, 1, 1, 0, null, now, now),
            JsonSerializer.SerializeToElement(new { sourceId }), connection, transaction, "bench", scope.ServiceProvider.GetRequiredService<IJobQueue>()),
            CancellationToken.None);
        await transaction.CommitAsync();
    }
}
