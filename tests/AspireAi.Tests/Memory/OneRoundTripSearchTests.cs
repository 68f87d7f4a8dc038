using System.Diagnostics;
using AspireAi.Core.Memory;
using AspireAi.LocalServers;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;

namespace AspireAi.Tests.Memory;

/// <summary>
/// A small scope's three Postgres legs run in one round trip on one connection while other searches run
/// (<see cref="MemoryOptions.OneRoundTripMaxScopeRows"/>, <see cref="MemoryOptions.OneRoundTripMinOtherSearches"/>);
/// they must find and rank exactly what the concurrent legs find.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed class OneRoundTripSearchTests(ApiFactory factory)
{
    [Fact]
    public async Task A_small_scope_is_searched_in_one_round_trip_and_ranked_as_by_concurrent_legs()
    {
        // A private database, so that the table's statistics (which tell the scope is small) are this test's alone.
        var postgres = await TestServers.StartPrivatePostgresAsync();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = postgres.ConnectionString,
            ["Memory:KeywordStatisticsRefresh"] = "00:00:00",
        };
        // One round trip even for a search alone (this test's searches run one at a time).
        await using var oneTrip = factory.WithSettings(new Dictionary<string, string?>(settings) { ["Memory:OneRoundTripMinOtherSearches"] = "0" });
        // The defaults: a search alone runs its legs concurrently, on cores that would otherwise wait.
        await using var concurrent = factory.WithSettings(settings);
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, user) = await MemoryTestUsers.CreateUserOnAsync(oneTrip, dataSource);
        foreach (var text in new[] { "Works at Globex as a data engineer", "Has a dog named Rex", "Visited Lisbon in May 2023",
            "Plays tennis on Sundays", "Is allergic to peanuts", "Drinks green tea every morning", "Moved from Globex to Initech in 2024" })
        {
            await MemoryTestData.PostMemoryAsync(client, new { text, infer = false });
        }
        await using (var analyze = dataSource.CreateCommand("ANALYZE memories"))
        {
            await analyze.ExecuteNonQueryAsync();
        }
        await using var orgOf = dataSource.CreateCommand("SELECT org_id FROM users WHERE id = $1");
        orgOf.Parameters.Add(new() { Value = user });
        var query = new MemoryQuery(user, (Guid)(await orgOf.ExecuteScalarAsync())!, "Where does the user work, Globex or Initech?", 5,
            new HashSet<MemoryScope>(), new HashSet<MemoryType>(), null, null);
        var vector = await oneTrip.Services.GetRequiredService<MemoryEmbedder>().EmbedAsync(query.Query, CancellationToken.None);

        var (oneTripLegs, oneTripResult) = await SearchAsync(oneTrip.Services.GetRequiredService<MemoryRetriever>(), query, vector);
        var (concurrentLegs, concurrentResult) = await SearchAsync(concurrent.Services.GetRequiredService<MemoryRetriever>(), query, vector);

        Assert.Equal("one_round_trip", oneTripLegs);
        Assert.Equal("concurrent", concurrentLegs);
        // All three legs found something, so each of their result sets was read into its own list.
        Assert.Contains(oneTripResult.Items, item => item.Breakdown.SemanticRank is not null);
        Assert.Contains(oneTripResult.Items, item => item.Breakdown.KeywordRank is not null);
        Assert.Contains(oneTripResult.Items, item => item.Breakdown.EntityRank is not null);
        Assert.Equal(concurrentResult.Candidates, oneTripResult.Candidates);
        Assert.Equal(
            concurrentResult.Items.Select(i => (i.Id, i.Text, i.Breakdown.SemanticRank, i.Breakdown.KeywordRank, i.Breakdown.EntityRank, i.Breakdown.EntityMatches)),
            oneTripResult.Items.Select(i => (i.Id, i.Text, i.Breakdown.SemanticRank, i.Breakdown.KeywordRank, i.Breakdown.EntityRank, i.Breakdown.EntityMatches)));
        foreach (var (expected, actual) in concurrentResult.Items.Zip(oneTripResult.Items))
        {
            Assert.Equal(expected.Breakdown.Fused, actual.Breakdown.Fused, 9);
            // The recency decay moves a little between the two searches (seconds apart).
            Assert.Equal(expected.Score, actual.Score, 4);
        }

        // A search that fails inside the one round trip (a vector of another dimension) leaves its transaction to the
        // pool, which rolls it back: the same single connection serves the next search.
        var builder = new NpgsqlDataSourceBuilder(postgres.ConnectionString + ";Maximum Pool Size=1");
        builder.UseVector();
        await using var single = builder.Build();
        var retriever = ActivatorUtilities.CreateInstance<MemoryRetriever>(oneTrip.Services, single);
        await Assert.ThrowsAnyAsync<PostgresException>(() => SearchAsync(retriever, query, new MemoryVector([1f, 0f, 0f], vector.Model)));
        var (legs, again) = await SearchAsync(retriever, query, vector);
        Assert.Equal("one_round_trip", legs);
        Assert.Equal(oneTripResult.Items.Select(i => i.Id), again.Items.Select(i => i.Id));
    }

    // The search, and how its legs ran (the retrieval span's tag), read from this search's own trace.
    private static async Task<(string? Legs, MemorySearchResult Result)> SearchAsync(MemoryRetriever retriever, MemoryQuery query, MemoryVector vector)
    {
        using var source = new ActivitySource($"test-{Guid.NewGuid():N}");
        string? legs = null;
        ActivityTraceId? trace = null;
        using var listener = new ActivityListener
        {
            // By name: the listener also sees the memory source being created, inside its type initializer.
            ShouldListenTo = s => s == source || s.Name == MemoryMetrics.MeterName,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.TraceId == trace && activity.OperationName == "memory.retrieve")
                {
                    legs = activity.GetTagItem("aspireai.memory.legs") as string;
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        using var parent = source.StartActivity("search")!;
        trace = parent.TraceId;
        var result = await retriever.SearchAsync(query, vector, CancellationToken.None);
        return (legs, result);
    }
}
