using System.Net;
using System.Net.Http.Json;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspireAi.Tests.Data;

// Database:MaxAutoPrepare: the statements a request repeats are prepared on the pooled connection, and the searches
// among them are still planned for their values every time (Core/Data/PlanCache).
public sealed class PlanCacheTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const int PoolSize = 3;

    [Fact]
    public async Task Repeated_statements_are_prepared_and_memory_search_is_planned_for_its_values_each_time()
    {
        // A small pool, so that every statement the Api runs lands on one of the few backends inspected below.
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = factory.Servers.PostgresConnectionString + $";Maximum Pool Size={PoolSize}",
        });
        var (client, _) = await api.CreateUserClientAsync();
        foreach (var text in new[] { "Anna works at Globex as a data engineer", "Anna has a dog named Rex", "Ben plays tennis with Anna on Sundays" })
        {
            await MemoryTestData.PostMemoryAsync(client, new { text, infer = false });
        }

        const int Searches = 24;
        for (var i = 0; i < Searches; i++)
        {
            // A different question each time: a repeated one could be answered from the query-embedding cache.
            using var response = await client.PostAsJsonAsync("/v1/memories/search", new { query = $"Where does Anna work, question {i}?" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        // Prepared statements belong to their session: ask each of the pool's connections, holding all at once.
        var dataSource = api.Services.GetRequiredService<NpgsqlDataSource>();
        var connections = new List<NpgsqlConnection>();
        var statements = new List<(string Sql, long Generic, long Custom)>();
        try
        {
            for (var i = 0; i < PoolSize; i++)
            {
                connections.Add(await dataSource.OpenConnectionAsync());
            }
            foreach (var connection in connections)
            {
                await using var command = new NpgsqlCommand("SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements", connection);
                await using var reader = await command.ExecuteReaderAsync();
                while (await reader.ReadAsync())
                {
                    statements.Add((reader.GetString(0), reader.GetInt64(1), reader.GetInt64(2)));
                }
            }
        }
        finally
        {
            foreach (var connection in connections)
            {
                await connection.DisposeAsync();
            }
        }
        statements = [.. statements.GroupBy(s => s.Sql).Select(g => (g.Key, g.Sum(s => s.Generic), g.Sum(s => s.Custom)))];

        // The three legs of memory search (semantic, keyword, entity), each prepared and planned on every run.
        var legs = statements.Where(s => s.Sql.Contains("memories m", StringComparison.Ordinal) && s.Sql.Contains("<=>", StringComparison.Ordinal)).ToList();
        Assert.True(legs.Count == 3, string.Join("\n---\n", statements.Select(s => $"{s.Generic}/{s.Custom}: {s.Sql}")));
        Assert.All(legs, leg =>
        {
            Assert.Equal(0, leg.Generic);
            // A statement is prepared on its second run on a connection.
            Assert.True(leg.Custom >= Searches - PoolSize, $"{leg.Custom} custom plans: {leg.Sql}");
        });
        // Everything else may settle on a generic plan, and some statement did: the plan cache is in use.
        Assert.Contains(statements, s => s.Generic > 0);
    }
}
