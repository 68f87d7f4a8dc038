using AspireAi.Core.Memory;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.Memory;

/// <summary>
/// The semantic leg's plan is the application's choice (<see cref="MemorySemanticQuery.Choose"/>), so that PostgreSQL
/// plans each of its statements once: the HNSW walk or an exact ranking, by the scope's size against the table's.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class SemanticPlanTests(ApiFactory factory)
{
    private static readonly MemoryHnswSettings Defaults = MemoryHnswSettings.From(new MemoryOptions());

    [Theory]
    // One user's 100,000 among 1,000,000: the walk visits ~700 tuples where exact ranking reads 100,000 rows.
    [InlineData(100_000, 1_000_000, MemorySemanticPlan.Index)]
    // 10,000 among 1,000,000: the filter rejects 99 % of what the walk visits (PostgreSQL chose the walk: 49 ms, against 17 ms exact).
    [InlineData(10_000, 1_000_000, MemorySemanticPlan.Exact)]
    [InlineData(30_000, 1_000_000, MemorySemanticPlan.Index)]
    [InlineData(100, 1_000_000, MemorySemanticPlan.Exact)]
    // A single-user installation: the scope is the table, and the walk pays off from a few thousand rows.
    [InlineData(2_000, 2_000, MemorySemanticPlan.Exact)]
    [InlineData(50_000, 50_000, MemorySemanticPlan.Index)]
    // Statistics say the scope is empty (an estimate can be 0): ranking nothing is cheapest.
    [InlineData(0, 1_000_000, MemorySemanticPlan.Exact)]
    public void The_plan_is_the_cheaper_of_ranking_the_scope_and_walking_the_graph(double scopeRows, double tableRows, MemorySemanticPlan expected)
    {
        Assert.Equal(expected, MemorySemanticQuery.Choose(new MemoryScopeSize(scopeRows, tableRows), 40, Defaults));
    }

    [Fact]
    public void Without_statistics_PostgreSQL_plans_the_search()
    {
        Assert.Equal(MemorySemanticPlan.Planner, MemorySemanticQuery.Choose(null, 40, Defaults));
    }

    [Fact]
    public async Task Scope_sizes_come_from_the_table_statistics_looked_for_again_soon_until_the_first_ANALYZE()
    {
        // A private database: the statistics are of this test's rows alone.
        var postgres = await TestServers.StartPrivatePostgresAsync();
        await using var api = factory.WithSettings(new Dictionary<string, string?> { ["ConnectionStrings:postgres"] = postgres.ConnectionString });
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, user) = await MemoryTestUsers.CreateUserOnAsync(api, dataSource);
        foreach (var text in new[] { "Works at Globex", "Has a dog named Rex", "Visited Lisbon" })
        {
            await MemoryTestData.PostMemoryAsync(client, new { text, infer = false });
        }
        var time = new ManualTimeProvider(DateTimeOffset.UtcNow);
        using var statistics = new MemoryStatistics(dataSource, Options.Create(new MemoryOptions()), time, NullLogger<MemoryStatistics>.Instance);
        await using var orgOf = dataSource.CreateCommand("SELECT org_id FROM users WHERE id = $1");
        orgOf.Parameters.Add(new() { Value = user });
        string[] keys = [MemoryScopeRef.ForUser((Guid)(await orgOf.ExecuteScalarAsync())!, user).Key];
        async Task Analyze()
        {
            await using var command = dataSource.CreateCommand("ANALYZE memories");
            await command.ExecuteNonQueryAsync();
        }

        // Never analysed: no estimate, and PostgreSQL plans the search.
        Assert.Null(await statistics.ScopeSizeAsync(keys, CancellationToken.None));
        await Analyze();
        time.Now += TimeSpan.FromSeconds(10);
        Assert.Null(await statistics.ScopeSizeAsync(keys, CancellationToken.None));
        time.Now += TimeSpan.FromSeconds(6);
        Assert.Equal(new MemoryScopeSize(3, 3), await statistics.ScopeSizeAsync(keys, CancellationToken.None));

        // Once known, they are kept for KeywordStatisticsRefresh (5 minutes).
        foreach (var text in new[] { "Plays tennis on Sundays", "Is allergic to peanuts" })
        {
            await MemoryTestData.PostMemoryAsync(client, new { text, infer = false });
        }
        await Analyze();
        time.Now += TimeSpan.FromMinutes(1);
        Assert.Equal(new MemoryScopeSize(3, 3), await statistics.ScopeSizeAsync(keys, CancellationToken.None));
        time.Now += TimeSpan.FromMinutes(5);
        Assert.Equal(new MemoryScopeSize(5, 5), await statistics.ScopeSizeAsync(keys, CancellationToken.None));
    }

    [Fact]
    public async Task Each_plan_finds_the_same_nearest_memories_and_a_job_transaction_gets_its_settings_back()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        foreach (var text in new[] { "Works at Globex as a data engineer", "Has a dog named Rex", "Visited Lisbon in May 2023",
            "Plays tennis on Sundays", "Is allergic to peanuts", "Drinks green tea every morning" })
        {
            await MemoryTestData.PostMemoryAsync(client, new { text, infer = false });
        }
        var vector = await factory.Services.GetRequiredService<MemoryEmbedder>().EmbedAsync("Where does the user work?", CancellationToken.None);
        string[] keys = [MemoryScopeRef.ForUser(user.OrgId, user.Id).Key];

        var exact = await NearestAsync(vector, keys, MemorySemanticPlan.Exact);
        Assert.Equal(3, exact.Count);

        Assert.Equal(exact, await NearestAsync(vector, keys, MemorySemanticPlan.Index));
        Assert.Equal(exact, await NearestAsync(vector, keys, MemorySemanticPlan.Planner));
        // The over-fetching form of the walk too.
        var overfetch = MemoryHnswSettings.From(new MemoryOptions { HnswOverfetch = 3 });
        Assert.Equal(exact, await NearestAsync(vector, keys, MemorySemanticPlan.Index, overfetch));
    }

    [Fact]
    public async Task A_search_that_fails_in_the_database_leaves_its_pooled_connection_usable()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var stored = (await MemoryTestData.PostMemoryAsync(client, new { text = "Works at Globex as a data engineer", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        // One connection, so the failed search's connection is the one the next search gets.
        var builder = new NpgsqlDataSourceBuilder(factory.Servers.PostgresConnectionString + ";Maximum Pool Size=1");
        builder.UseVector();
        await using var single = builder.Build();
        var retriever = ActivatorUtilities.CreateInstance<MemoryRetriever>(factory.Services, single);
        var query = new MemoryQuery(user.Id, user.OrgId, "Where does the user work, Globex?", 5, new HashSet<MemoryScope>(), new HashSet<MemoryType>(),
            null, null);
        var vector = await factory.Services.GetRequiredService<MemoryEmbedder>().EmbedAsync(query.Query, CancellationToken.None);

        // A vector of another dimension: PostgreSQL rejects the distance inside the legs' transactions (BEGIN … COMMIT
        // in one batch, so the COMMIT never runs).
        await Assert.ThrowsAnyAsync<PostgresException>(() => retriever.SearchAsync(query, new MemoryVector([1f, 0f, 0f], vector.Model), CancellationToken.None));

        // Left in its aborted transaction, the connection would refuse every statement ("current transaction is aborted").
        var found = await retriever.SearchAsync(query, vector, CancellationToken.None);
        Assert.Contains(found.Items, item => item.Id == stored);
    }

    // The three nearest memory ids, in one transaction that, like a job's, goes on after the search: the settings
    // the search made are back to the server's own afterwards.
    private async Task<List<Guid>> NearestAsync(MemoryVector vector, string[] keys, MemorySemanticPlan plan, MemoryHnswSettings? settings = null)
    {
        await using var connection = await factory.DataSource.OpenConnectionAsync();
        await using var transaction = await connection.BeginTransactionAsync();
        var ids = new List<Guid>();
        await using (var batch = new NpgsqlBatch(connection, transaction))
        {
            MemorySemanticQuery.Add(batch, settings ?? Defaults, "m.id", vector, keys, MemoryNames.AllTypes, 3, plan);
            MemorySemanticQuery.AddRestore(batch);
            await using var reader = await batch.ExecuteReaderAsync();
            do
            {
                while (reader.FieldCount == 1 && await reader.ReadAsync())
                {
                    ids.Add(reader.GetGuid(0));
                }
            }
            while (await reader.NextResultAsync());
        }
        await using var settingsNow = new NpgsqlCommand("SELECT current_setting('plan_cache_mode'), current_setting('enable_seqscan')", connection, transaction);
        await using (var reader = await settingsNow.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal(("auto", "on"), (reader.GetString(0), reader.GetString(1)));
        }
        return ids;
    }
}
