using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Documents;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using Microsoft.Extensions.Logging.Abstractions;
using ModelContextProtocol.Client;
using ModelContextProtocol.Protocol;

namespace AspireAi.Tests.Mcp;

/// <summary>The MCP server at /mcp, driven by the C# MCP client over streamable HTTP with the users' own credentials.</summary>
public sealed class McpServerTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static readonly string[] ToolNames =
        ["add_memory", "current_time", "delete_memory", "list_documents", "search_documents", "search_memories", "update_memory"];

    [Fact]
    public async Task Tools_are_listed_with_input_schemas_and_annotations()
    {
        var (http, _) = await factory.CreateUserClientAsync();
        await using var client = await ConnectAsync(http);

        var tools = await client.ListToolsAsync();

        Assert.Equal(ToolNames, tools.Select(t => t.Name).Order(StringComparer.Ordinal));
        var byName = tools.ToDictionary(t => t.Name, t => t.ProtocolTool);
        Assert.All(byName.Values, t => Assert.False(string.IsNullOrWhiteSpace(t.Description)));
        foreach (var name in new[] { "search_memories", "search_documents", "list_documents", "current_time" })
        {
            Assert.True(byName[name].Annotations?.ReadOnlyHint, name);
            Assert.False(byName[name].Annotations?.DestructiveHint, name);
        }
        Assert.True(byName["delete_memory"].Annotations?.DestructiveHint);
        Assert.True(byName["delete_memory"].Annotations?.IdempotentHint);
        Assert.False(byName["add_memory"].Annotations?.ReadOnlyHint);
        Assert.False(byName["add_memory"].Annotations?.DestructiveHint);

        var search = byName["search_memories"].InputSchema;
        Assert.Equal("object", search.GetProperty("type").GetString());
        Assert.Equal(["query"], search.GetProperty("required").EnumerateArray().Select(e => e.GetString()));
        Assert.Equal("integer", search.GetProperty("properties").GetProperty("limit").GetProperty("type").GetString());
        Assert.Equal(["id", "text"], byName["update_memory"].InputSchema.GetProperty("required").EnumerateArray().Select(e => e.GetString()).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Each_tool_works_for_its_caller_and_every_call_is_audited()
    {
        // An API key, as a desktop client would be configured with.
        var (http, user) = await factory.CreateUserClientAsync();
        using var created = await http.PostAsJsonAsync("/v1/api-keys", new { name = "desktop mcp", scopes = new[] { "memories:read", "memories:write", "documents:read" } });
        var key = (await created.ReadJsonAsync()).GetProperty("key").GetString()!;
        var keyClient = factory.CreateClient();
        keyClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        var marker = DocumentsTestData.Unique("ZEBRA");
        var document = await DocumentsTestData.IngestTextAsync(http, "Field notes", $"The {marker} project ships in March. Its code name is a striped animal.");
        await using var client = await ConnectAsync(keyClient);

        var added = await CallAsync(client, "add_memory", new() { ["text"] = "Prefers window seats on long flights", ["type"] = "semantic", ["importance"] = 0.8 });
        Assert.Equal("ADD", added.GetProperty("operation").GetString());
        var memoryId = added.GetProperty("id").GetGuid();
        Assert.Equal(user.Id, await factory.ScalarAsync<Guid>("SELECT user_id FROM memories WHERE id = $1 AND invalidated_at IS NULL", memoryId));

        var found = await CallAsync(client, "search_memories", new() { ["query"] = "window seat on flights" });
        Assert.Contains(found.GetProperty("memories").EnumerateArray(), m => m.GetProperty("id").GetGuid() == memoryId);

        var updated = await CallAsync(client, "update_memory", new() { ["id"] = memoryId.ToString(), ["text"] = "Prefers aisle seats on long flights" });
        var newId = updated.GetProperty("id").GetGuid();
        Assert.NotEqual(memoryId, newId);
        Assert.Equal("Prefers aisle seats on long flights", await MemoryTestData.CurrentTextAsync(factory.DataSource, newId));

        var deleted = await CallAsync(client, "delete_memory", new() { ["id"] = newId.ToString() });
        Assert.Equal("DELETE", deleted.GetProperty("operation").GetString());
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM memories WHERE user_id = $1 AND invalidated_at IS NULL", user.Id));

        var passages = await CallAsync(client, "search_documents", new() { ["query"] = $"When does the {marker} project ship?" });
        var passage = Assert.Single(passages.GetProperty("passages").EnumerateArray(), p => p.GetProperty("documentId").GetGuid() == document.GetProperty("id").GetGuid());
        Assert.Contains(marker, passage.GetProperty("content").GetString(), StringComparison.Ordinal);

        var listed = await CallAsync(client, "list_documents", new());
        Assert.Contains(listed.GetProperty("documents").EnumerateArray(), d => d.GetProperty("id").GetGuid() == document.GetProperty("id").GetGuid());

        var time = await CallAsync(client, "current_time", new() { ["timeZone"] = "Europe/Lisbon" });
        Assert.Equal("Europe/Lisbon", time.GetProperty("timeZone").GetString());
        Assert.InRange(DateTimeOffset.Parse(time.GetProperty("now").GetString()!, System.Globalization.CultureInfo.InvariantCulture), DateTimeOffset.UtcNow.AddMinutes(-1), DateTimeOffset.UtcNow.AddMinutes(1));

        // Failures are isError results, not protocol errors, and say what is wrong.
        var badZone = await client.CallToolAsync("current_time", new Dictionary<string, object?> { ["timeZone"] = "Mars/Olympus" });
        Assert.True(badZone.IsError);
        Assert.Contains("not a known time zone", Text(badZone), StringComparison.Ordinal);
        var secret = await client.CallToolAsync("add_memory", new Dictionary<string, object?> { ["text"] = "My key is sk-proj-abcdefghijklmnopqrstuvwxyz0123456789ABCD" });
        Assert.True(secret.IsError);
        Assert.Contains("secret", Text(secret), StringComparison.Ordinal);
        Assert.DoesNotContain(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id, currentOnly: false),
            m => m.Text.Contains("sk-proj", StringComparison.Ordinal));

        // The tool-call audit has one row per call, attributed to the key's owner.
        await using var audit = factory.DataSource.CreateCommand(
            "SELECT target_id, details->>'outcome' FROM audit_log WHERE actor_user_id = $1 AND action = 'tool.called' ORDER BY id");
        audit.Parameters.Add(new() { Value = user.Id });
        var rows = new List<(string, string)>();
        await using (var reader = await audit.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                rows.Add((reader.GetString(0), reader.GetString(1)));
            }
        }
        Assert.Equal(
            [("add_memory", "Succeeded"), ("search_memories", "Succeeded"), ("update_memory", "Succeeded"), ("delete_memory", "Succeeded"),
             ("search_documents", "Succeeded"), ("list_documents", "Succeeded"), ("current_time", "Succeeded"), ("current_time", "Failed"), ("add_memory", "Failed")],
            rows);
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action = 'tool.called' AND arguments LIKE '%abcdefghijklmnop%'", user.Id));
    }

    [Fact]
    public async Task A_caller_without_a_valid_credential_is_refused()
    {
        var anonymous = factory.CreateClient();
        var refused = await Assert.ThrowsAnyAsync<HttpRequestException>(() => ConnectAsync(anonymous));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);

        var wrongKey = factory.CreateClient();
        wrongKey.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", "aai_AAAAAAAA_" + new string('B', 32));
        var wrong = await Assert.ThrowsAnyAsync<HttpRequestException>(() => ConnectAsync(wrongKey));
        Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
    }

    [Fact]
    public async Task Another_users_memories_and_documents_are_never_reachable()
    {
        var (aliceHttp, alice) = await factory.CreateUserClientAsync();
        var (bobHttp, _) = await factory.CreateUserClientAsync();
        var marker = DocumentsTestData.Unique("OKAPI");
        var aliceDocument = await DocumentsTestData.IngestTextAsync(aliceHttp, "Alice's diary", $"The {marker} safe combination is kept under the stairs.");
        await using var aliceClient = await ConnectAsync(aliceHttp);
        var memoryId = (await CallAsync(aliceClient, "add_memory", new() { ["text"] = $"Keeps the {marker} safe under the stairs" })).GetProperty("id").GetGuid();
        await using var bob = await ConnectAsync(bobHttp);

        var memories = await CallAsync(bob, "search_memories", new() { ["query"] = $"{marker} safe under the stairs" });
        Assert.DoesNotContain(memories.GetProperty("memories").EnumerateArray(), m => m.GetProperty("id").GetGuid() == memoryId);
        var passages = await CallAsync(bob, "search_documents", new() { ["query"] = $"{marker} safe combination" });
        Assert.DoesNotContain(passages.GetProperty("passages").EnumerateArray(), p => p.GetProperty("documentId").GetGuid() == aliceDocument.GetProperty("id").GetGuid());
        var documents = await CallAsync(bob, "list_documents", new() { ["limit"] = 100 });
        Assert.DoesNotContain(documents.GetProperty("documents").EnumerateArray(), d => d.GetProperty("id").GetGuid() == aliceDocument.GetProperty("id").GetGuid());

        // Changing Alice's memory by its id is refused as if it did not exist, and changes nothing.
        var update = await bob.CallToolAsync("update_memory", new Dictionary<string, object?> { ["id"] = memoryId.ToString(), ["text"] = "Keeps nothing anywhere" });
        Assert.True(update.IsError);
        Assert.Contains("No memory", Text(update), StringComparison.Ordinal);
        var delete = await bob.CallToolAsync("delete_memory", new Dictionary<string, object?> { ["id"] = memoryId.ToString() });
        Assert.True(delete.IsError);
        Assert.Equal($"Keeps the {marker} safe under the stairs",
            await MemoryTestData.CurrentTextAsync(factory.DataSource, memoryId, alice.Id));
    }

    [Fact]
    public async Task An_api_key_without_the_scope_a_tool_needs_is_refused_and_nothing_is_written()
    {
        var (http, user) = await factory.CreateUserClientAsync();
        using var created = await http.PostAsJsonAsync("/v1/api-keys", new { name = "read only", scopes = new[] { "memories:read" } });
        var key = (await created.ReadJsonAsync()).GetProperty("key").GetString()!;
        var keyClient = factory.CreateClient();
        keyClient.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", key);
        await using var client = await ConnectAsync(keyClient);

        var add = await client.CallToolAsync("add_memory", new Dictionary<string, object?> { ["text"] = "Prefers tea to coffee" });
        var documents = await client.CallToolAsync("list_documents", new Dictionary<string, object?>());

        Assert.True(add.IsError);
        Assert.Contains("'memories:write' scope", Text(add), StringComparison.Ordinal);
        Assert.True(documents.IsError);
        Assert.Contains("'documents:read' scope", Text(documents), StringComparison.Ordinal);
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM memories WHERE user_id = $1", user.Id));
        // What the key may do still works.
        var found = await CallAsync(client, "search_memories", new() { ["query"] = "tea" });
        Assert.Equal(0, found.GetProperty("memories").GetArrayLength());
    }

    private static async Task<McpClient> ConnectAsync(HttpClient http) =>
        await McpClient.CreateAsync(
            new HttpClientTransport(new HttpClientTransportOptions { Endpoint = new Uri(http.BaseAddress!, "/mcp"), TransportMode = HttpTransportMode.StreamableHttp },
                http, NullLoggerFactory.Instance, ownsHttpClient: false),
            loggerFactory: NullLoggerFactory.Instance);

    private static async Task<JsonElement> CallAsync(McpClient client, string tool, Dictionary<string, object?> arguments)
    {
        var result = await client.CallToolAsync(tool, arguments);
        Assert.True(result.IsError != true, $"{tool} failed: {Text(result)}");
        return JsonDocument.Parse(Text(result)).RootElement.Clone();
    }

    private static string Text(CallToolResult result) => string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
}
