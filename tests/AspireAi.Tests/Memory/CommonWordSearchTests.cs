using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Core.Memory;
using AspireAi.LocalServers;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.Memory;

[Collection(MemoryCollection.Name)]
public sealed class CommonWordSearchTests(ApiFactory factory)
{
    [Fact]
    public async Task Words_in_very_many_memories_rank_keyword_matches_but_do_not_find_them()
    {
        // A private database, so that the table's statistics are this test's alone: 25 memories in one scope, one word
        // in all of them, one in 12, one in a single memory.
        var postgres = await TestServers.StartPrivatePostgresAsync();
        var common = Word();
        var alsoCommon = Word();
        var rare = Word();
        var settings = new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = postgres.ConnectionString,
            ["Memory:KeywordCommonWordMatches"] = "10",
            ["Memory:KeywordStatisticsRefresh"] = "00:00:00",
        };
        await using var on = factory.WithSettings(settings);
        await using var off = factory.WithSettings(new Dictionary<string, string?>(settings) { ["Memory:KeywordCommonWordMatches"] = "0" });
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        var (client, _) = await MemoryTestUsers.CreateUserOnAsync(on, dataSource);
        async Task<Guid> Store(string text) =>
            (await MemoryTestData.PostMemoryAsync(client, new { text, infer = false })).GetProperty("memory").GetProperty("id").GetGuid();
        var both = await Store($"Keeps the {common} {rare} in the attic");
        var withCommon = new HashSet<Guid> { both };
        var withBothCommon = new HashSet<Guid>();
        var things = new[] { "lamp", "sofa", "desk", "rug", "clock", "vase", "shelf", "chair", "piano", "mirror", "kettle", "radio",
            "bicycle", "camera", "guitar", "blanket", "teapot", "globe", "easel", "ladder", "hammock", "violin", "compass", "lantern" };
        for (var i = 0; i < things.Length; i++)
        {
            var stored = await Store(i % 2 == 0 ? $"Owns a {common} {things[i]} and a {alsoCommon} one" : $"Owns a {common} {things[i]}");
            withCommon.Add(stored);
            if (i % 2 == 0)
            {
                withBothCommon.Add(stored);
            }
        }
        await using (var analyze = dataSource.CreateCommand("ANALYZE memories"))
        {
            await analyze.ExecuteNonQueryAsync();
        }

        // Only the rare word finds: the one memory holding both words, ranked on both (2 of 2 words).
        var (_, found) = await SearchAsync(client, $"{common} {rare}");
        var (id, raw) = Assert.Single(found);
        Assert.Equal(both, id);
        Assert.Equal(1.0, raw, 3);

        // The common word alone finds nothing by keyword; the search still answers from the other legs.
        var (items, keyword) = await SearchAsync(client, common);
        Assert.NotEmpty(items);
        Assert.Empty(keyword);

        // Common words only: the rows holding all of them.
        var (_, allCommon) = await SearchAsync(client, $"{alsoCommon} {common}");
        Assert.Equal(withBothCommon, allCommon.Keys.ToHashSet());
        Assert.All(allCommon.Values, raw => Assert.Equal(1.0, raw, 3));

        // With the setting off every word finds again: what the searches above rule out.
        var offClient = off.CreateClient();
        offClient.DefaultRequestHeaders.Authorization = client.DefaultRequestHeaders.Authorization;
        var (_, everyMatch) = await SearchAsync(offClient, common);
        Assert.Equal(withCommon, everyMatch.Keys.ToHashSet());
        var (_, anyWord) = await SearchAsync(offClient, $"{common} {rare}");
        Assert.Equal(withCommon, anyWord.Keys.ToHashSet());
    }

    [Fact]
    public async Task Without_readable_statistics_every_word_finds()
    {
        // Nothing listens on the port: the statistics read fails as with PostgreSQL down.
        await using var dataSource = NpgsqlDataSource.Create($"Host=127.0.0.1;Port={NativeProcess.FreeTcpPort()};Username=x;Password=x;Timeout=2");
        using var common = new MemoryStatistics(dataSource, Options.Create(new MemoryOptions { KeywordCommonWordMatches = 1 }), TimeProvider.System,
            NullLogger<MemoryStatistics>.Instance);
        byte[][] tokens = [RandomNumberGenerator.GetBytes(16), RandomNumberGenerator.GetBytes(16)];

        var match = await common.MatchAsync(tokens, ["user:any"], CancellationToken.None);

        Assert.False(match.RequireAll);
        Assert.Equal(tokens, match.Tokens);
    }

    // The items found, and those the keyword leg found with their raw rank.
    private static async Task<(List<JsonElement> Items, Dictionary<Guid, double> Keyword)> SearchAsync(HttpClient client, string query)
    {
        using var response = await client.PostAsJsonAsync("/v1/memories/search", new { query, topK = 30, explain = true });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var items = (await response.ReadJsonAsync()).GetProperty("items").EnumerateArray().ToList();
        return (items, items.Where(i => i.GetProperty("explain").GetProperty("keywordRank").ValueKind == JsonValueKind.Number)
            .ToDictionary(i => i.GetProperty("id").GetGuid(), i => i.GetProperty("explain").GetProperty("keywordRaw").GetDouble()));
    }

    // Letters only, ending in a consonant the stemmer leaves alone.
    private static string Word() =>
        new string([.. RandomNumberGenerator.GetBytes(8).Select(b => "bcdfghjklmnpqrtvwxz"[b % 19])]) + "k";
}
