using System.Security.Cryptography;
using AspireAi.Core.Identity;
using Npgsql;

namespace AspireAi.ChatBench;

/// <summary>What both runs set up: users with a conversation and history, and waiting for a service to be healthy.</summary>
internal static class BenchData
{
    public static string Secret() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(16));

    /// <summary>The nearest-rank percentile of an ascending list.</summary>
    public static double P(List<double> sorted, int percentile) =>
        sorted[Math.Min(sorted.Count - 1, (int)Math.Ceiling(percentile / 100.0 * sorted.Count) - 1)];

    public static async Task WaitHealthyAsync(HttpClient http, Uri apiUrl)
    {
        for (var i = 0; i < 600; i++)
        {
            try
            {
                using var response = await http.GetAsync(new Uri(apiUrl, "/health"));
                if (response.IsSuccessStatusCode)
                {
                    return;
                }
            }
            catch (HttpRequestException)
            {
            }
            await Task.Delay(100);
        }
        throw new TimeoutException("The Api did not become healthy.");
    }

    public static async Task<List<(string Email, string Password)>> CreateUsersAsync(NpgsqlDataSource dataSource, int count)
    {
        const string password = "bench-password-123";
        var hash = AdminSeeder.HashPassword(password);
        var orgId = Guid.CreateVersion7();
        await using (var org = dataSource.CreateCommand("INSERT INTO orgs (id, name) VALUES ($1, 'default')"))
        {
            org.Parameters.Add(new() { Value = orgId });
            await org.ExecuteNonQueryAsync();
        }
        var users = new List<(string, string)>();
        for (var i = 0; i < count; i++)
        {
            var email = $"bench{i}@bench.local";
            await using var insert = dataSource.CreateCommand("INSERT INTO users (id, org_id, email, display_name, password_hash, role) VALUES ($1, $2, $3, $4, $5, 'user')");
            insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new() { Value = orgId });
            insert.Parameters.Add(new() { Value = email });
            insert.Parameters.Add(new() { Value = $"Bench {i}" });
            insert.Parameters.Add(new() { Value = hash });
            await insert.ExecuteNonQueryAsync();
            users.Add((email, password));
        }
        return users;
    }

    public static async Task SeedHistoryAsync(NpgsqlDataSource dataSource, Guid conversationId, int messages)
    {
        await using var command = dataSource.CreateCommand("""
            INSERT INTO messages (id, conversation_id, sequence, role, content, status)
            SELECT gen_random_uuid(), $1, s, CASE WHEN s % 2 = 1 THEN 'user' ELSE 'assistant' END,
                   repeat('Some earlier message text. ', 8), 'complete'
            FROM generate_series(1, $2) AS s
            """);
        command.Parameters.Add(new() { Value = conversationId });
        command.Parameters.Add(new() { Value = messages });
        await command.ExecuteNonQueryAsync();
        await using var count = dataSource.CreateCommand("UPDATE conversations SET message_count = $2 WHERE id = $1");
        count.Parameters.Add(new() { Value = conversationId });
        count.Parameters.Add(new() { Value = (long)messages });
        await count.ExecuteNonQueryAsync();
    }
}
