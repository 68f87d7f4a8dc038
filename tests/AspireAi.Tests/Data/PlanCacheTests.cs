using System.Net;
using System.Net.Http.Json;
using AspireAi.Core.Memory;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.Data;

// Database:MaxAutoPrepare: the statements a request repeats are prepared on the pooled connection; the semantic leg of
// memory search is planned once where the application chose its plan, and for its values every time where it could
// not (Core/Data/PlanCache).
public sealed class PlanCacheTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const int PoolSize = 3;

    private const int Searches = 24;

    [Fact]
    public async Task Repeated_statements_are_prepared_and_the_semantic_leg_chosen_by_the_scope_size_is_planned_once()
    {
        var statements = await SearchAndReadPreparedStatementsAsync(maxAutoPrepare: null, analyze: true);
        var all = string.Join("\n---\n", statements.Select(s => $"{s.Generic}/{s.Custom}: {s.Sql}"));

        // The three legs of memory search (semantic, keyword, entity), each prepared.
        var legs = statements.Where(s => s.Sql.Contains("memories m", StringComparison.Ordinal) && s.Sql.Contains("<=>", StringComparison.Ordinal)).ToList();
        Assert.True(legs.Count == 3, all);
        // Three memories in a table of three, by the statistics: ranked exactly, on the plan made at the first run.
        var semantic = Assert.Single(legs, leg => leg.Sql.Contains("ORDER BY (m.embedding <=> $1) + 0", StringComparison.Ordinal));
        Assert.Equal(0, semantic.Custom);
        // A statement is prepared on its second run on a connection.
        Assert.True(semantic.Generic >= Searches - PoolSize, $"{semantic.Generic} generic plans: {semantic.Sql}");
        // The keyword leg is planned once as well; the entity leg as PostgreSQL chooses, and here it settled on a generic plan.
        var keyword = Assert.Single(legs, leg => leg.Sql.Contains("to_tsquery", StringComparison.Ordinal));
        Assert.Equal(0, keyword.Custom);
        Assert.All(legs.Where(leg => leg != semantic), leg => Assert.True(leg.Generic > 0, $"{leg.Generic}/{leg.Custom}: {leg.Sql}"));
    }

    [Fact]
    public async Task Before_the_table_is_analysed_the_semantic_leg_is_planned_for_its_values_each_time()
    {
        var statements = await SearchAndReadPreparedStatementsAsync(maxAutoPrepare: null, analyze: false);

        var semantic = Assert.Single(statements, s => s.Sql.Contains("ORDER BY m.embedding <=> $1", StringComparison.Ordinal)
            && s.Sql.Contains("m.scope_key = ANY($2)", StringComparison.Ordinal));
        Assert.Equal(0, semantic.Generic);
        Assert.True(semantic.Custom >= Searches - PoolSize, $"{semantic.Custom} custom plans: {semantic.Sql}");
    }

    [Fact]
    public async Task A_consolidation_search_does_not_leave_its_job_transaction_planning_every_statement()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        var scope = MemoryScopeRef.ForUser(user.OrgId, user.Id);
        var vector = await factory.Services.GetRequiredService<MemoryEmbedder>().EmbedAsync("Works at Globex", CancellationToken.None);
        await using var connection = await factory.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();

        await factory.Services.GetRequiredService<MemoryWriter>().FindCandidatesAsync(connection, transaction, scope, "Works at Globex", vector, 5,
            CancellationToken.None);

        await using var setting = new NpgsqlCommand("SELECT current_setting('plan_cache_mode') || ' ' || current_setting('enable_seqscan')", connection, transaction);
        Assert.Equal("auto on", await setting.ExecuteScalarAsync());
    }

    [Fact]
    public async Task With_MaxAutoPrepare_0_nothing_is_prepared()
    {
        Assert.Empty(await SearchAndReadPreparedStatementsAsync(maxAutoPrepare: "0", analyze: true));
    }

    [Fact]
    public async Task A_negative_MaxAutoPrepare_stops_the_start_naming_the_setting()
    {
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["Database:MaxAutoPrepare"] = "-1" });

        var error = await Record.ExceptionAsync(() => Task.FromResult(api.CreateClient()));

        Assert.IsType<OptionsValidationException>(error);
        Assert.Contains("MaxAutoPrepare", error.Message, StringComparison.Ordinal);
    }

    // Stores three memories and searches them, through an Api with a small pool, then reads what each of the pool's
    // connections has prepared (prepared statements belong to their session), summed per statement. A private
    // database: where PostgreSQL is left to choose a plan, its choice depends on the tables' contents, which in the
    // shared database depend on which other tests ran first; and so do the statistics the semantic leg's plan is
    // chosen by (analyze: gathered before the searches, which read them each time).
    private async Task<List<(string Sql, long Generic, long Custom)>> SearchAndReadPreparedStatementsAsync(string? maxAutoPrepare, bool analyze)
    {
        var postgres = await TestServers.StartPrivatePostgresAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = postgres.ConnectionString + $";Maximum Pool Size={PoolSize}",
            ["Memory:KeywordStatisticsRefresh"] = "00:00:00",
        };
        if (maxAutoPrepare is not null)
        {
            settings["Database:MaxAutoPrepare"] = maxAutoPrepare;
        }
        await using var api = factory.WithSettings(settings);
        await using var privateData = NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, _) = await MemoryTestUsers.CreateUserOnAsync(api, privateData);
        foreach (var text in new[] { "Anna works at Globex as a data engineer", "Anna has a dog named Rex", "Ben plays tennis with Anna on Sundays" })
        {
            await MemoryTestData.PostMemoryAsync(client, new { text, infer = false });
        }
        if (analyze)
        {
            await using var command = privateData.CreateCommand("ANALYZE memories");
            await command.ExecuteNonQueryAsync();
        }
        for (var i = 0; i < Searches; i++)
        {
            // A different question each time: a repeated one could be answered from the query-embedding cache.
            using var response = await client.PostAsJsonAsync("/v1/memories/search", new { query = $"Where does Anna work, question {i}?" });
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }

        var dataSource = api.Services.GetRequiredService<NpgsqlDataSource>();
        var connections = new List<NpgsqlConnection>();
        var statements = new List<(string Sql, long Generic, long Custom)>();
        try
        {
            // Held all at once, so that each is a different one of the pool's connections.
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
        return [.. statements.GroupBy(s => s.Sql).Select(g => (g.Key, g.Sum(s => s.Generic), g.Sum(s => s.Custom)))];
    }
}
