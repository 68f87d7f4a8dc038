using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Common;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Documents;

/// <summary>Documents in the chat: answers cite them, deletions and other users never leak, the tool and its audit.</summary>
public sealed class RagChatTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task An_answer_about_an_ingested_fact_cites_the_document_and_after_deletion_it_is_never_cited_again()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var project = DocumentsTestData.Unique("PRJ");
        var code = DocumentsTestData.Unique("CODE");
        var document = await DocumentsTestData.IngestTextAsync(client, "Launch procedures", $"""
            # Overview

            This handbook describes the launch procedures of several projects. Every project has its own checklist.

            # Project {project}

            The launch code for project {project} is {code}. It must be entered twice before the countdown starts.
            The countdown lasts ninety seconds.
            """);
        var documentId = document.GetProperty("id").GetGuid();
        var conversation = await ChatTestData.CreateConversationAsync(client);

        // Streamed: the done event carries the citation of the passage the answer used.
        var events = await AskStreamingAsync(client, conversation, $"What is the launch code for project {project}?");
        var answer = string.Concat(events.Where(e => e.Event == "delta").Select(e => e.Data.GetProperty("text").GetString()));
        var citations = events[^1].Data.GetProperty("citations").EnumerateArray().ToList();
        Assert.Equal("done", events[^1].Event);
        Assert.Contains(code, answer, StringComparison.Ordinal);
        Assert.Contains("[S1]", answer, StringComparison.Ordinal);
        // The first source, [S1], is the passage holding the fact; citations link to it by document and chunk id.
        var first = citations[0];
        Assert.Equal((documentId, "Launch procedures"), (first.GetProperty("documentId").GetGuid(), first.GetProperty("title").GetString()));
        var chunk = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{documentId}/chunks/{first.GetProperty("chunkId").GetGuid()}");
        Assert.Contains(code, chunk.GetProperty("content").GetString(), StringComparison.Ordinal);

        using (var deleted = await client.DeleteAsync($"/v1/documents/{documentId}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }

        // Same question, same conversation (its history still holds the old answer): no citation, no passage.
        var after = await AskAsync(client, conversation, $"What is the launch code for project {project}?");
        Assert.DoesNotContain(documentId, CitedDocuments(after));
        var search = await DocumentsApiTests.SearchAsync(client, $"launch code project {project}");
        Assert.DoesNotContain(documentId, DocumentsApiTests.Hits(search));
    }

    [Fact]
    public async Task User_b_never_retrieves_user_as_documents_in_chat()
    {
        var (alice, _) = await factory.CreateUserClientAsync();
        var (bob, _) = await factory.CreateUserClientAsync();
        var code = DocumentsTestData.Unique("SAFE");
        var document = await DocumentsTestData.IngestTextAsync(alice, "Alice's safe", $"The combination of Alice's safe is {code}.");
        var documentId = document.GetProperty("id").GetGuid();

        var bobs = await AskAsync(bob, await ChatTestData.CreateConversationAsync(bob), $"What is the combination of the safe {code}?");
        var alices = await AskAsync(alice, await ChatTestData.CreateConversationAsync(alice), $"What is the combination of the safe {code}?");

        Assert.DoesNotContain(documentId, CitedDocuments(bobs));
        Assert.Contains(documentId, CitedDocuments(alices));
        Assert.Contains(code, alices.GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_question_nothing_relevant_answers_is_low_confidence_and_cites_nothing()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        await DocumentsTestData.IngestTextAsync(client, "Tomatoes", "Tomato plants need six hours of sun. Water them at the base in the morning.");

        var search = await DocumentsApiTests.SearchAsync(client, "Which year did the Byzantine empire fall?");
        var reply = await AskAsync(client, await ChatTestData.CreateConversationAsync(client), "Which year did the Byzantine empire fall?");

        Assert.True(search.GetProperty("lowConfidence").GetBoolean());
        Assert.Empty(search.GetProperty("results").EnumerateArray());
        Assert.Empty(reply.GetProperty("citations").EnumerateArray());
        Assert.DoesNotContain("[S", reply.GetProperty("content").GetString(), StringComparison.Ordinal);
        Assert.DoesNotContain("Tomato", reply.GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_search_documents_tool_returns_passages_and_every_tool_call_is_audited_with_its_arguments_secrets_redacted()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var topic = DocumentsTestData.Unique("ZEB");
        var document = await DocumentsTestData.IngestTextAsync(client, "Zebra notes", $"The zebra enclosure {topic} is cleaned every Thursday.");
        var documentId = document.GetProperty("id").GetGuid();
        const string apiKey = "sk-proj-Zx81kQw2Lm93Pn47Rt56";

        var reply = await AskAsync(client, await ChatTestData.CreateConversationAsync(client), $"Search my documents for zebra enclosure {topic} {apiKey}");

        var call = Assert.Single(reply.GetProperty("toolCalls").EnumerateArray());
        Assert.Equal("search_documents", call.GetProperty("name").GetString());
        Assert.False(call.GetProperty("isError").GetBoolean());
        var result = JsonElement.Parse(call.GetProperty("result").GetString()!);
        Assert.Contains(result.GetProperty("results").EnumerateArray(), passage =>
            passage.GetProperty("documentId").GetGuid() == documentId && passage.GetProperty("text").GetString()!.Contains(topic, StringComparison.Ordinal));

        // Audited: who, which tool, what it was asked (the key the user pasted redacted), sizes, duration, outcome.
        await using var command = factory.DataSource.CreateCommand(
            "SELECT details::text, arguments FROM audit_log WHERE actor_user_id = $1 AND action = 'tool.called' AND target_type = 'tool' AND target_id = 'search_documents'");
        command.Parameters.Add(new() { Value = user.Id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        var details = JsonElement.Parse(reader.GetString(0));
        var arguments = JsonElement.Parse(reader.GetString(1));
        Assert.True(int.Parse(details.GetProperty("argumentsSize").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.True(int.Parse(details.GetProperty("resultSize").GetString()!, System.Globalization.CultureInfo.InvariantCulture) > 0);
        Assert.Equal("Succeeded", details.GetProperty("outcome").GetString());
        Assert.True(details.TryGetProperty("durationMs", out _));
        var query = arguments.GetProperty("query").GetString()!;
        Assert.Contains(topic, query, StringComparison.OrdinalIgnoreCase);
        Assert.Contains(SecretDetector.Placeholder, query, StringComparison.Ordinal);
        Assert.DoesNotContain("Zx81kQw2", reader.GetString(1), StringComparison.Ordinal);
        Assert.DoesNotContain("Zx81kQw2", details.GetRawText(), StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"query":"tea","password":"hunter2"}""", "hunter2")]
    [InlineData("""{"content":"my password is Tr0ub4dor&3 for the bank"}""", "Tr0ub4dor")]
    [InlineData("""{"settings":{"api_key":"a1b2c3d4e5f6g7h8"},"tags":["AKIAABCDEFGHIJKLMNOP"]}""", "a1b2c3d4e5f6g7h8")]
    [InlineData("""{"query": "unterminated sk-ant-Qw12Er34Ty56Ui78Op90""", "Qw12Er34")]
    public void Audited_arguments_have_their_secrets_redacted(string arguments, string secret)
    {
        var audited = AspireAi.Core.Documents.Tools.ToolCallAudit.RedactArguments(arguments);

        Assert.DoesNotContain(secret, audited, StringComparison.Ordinal);
        Assert.DoesNotContain("AKIAABCDEFGHIJKLMNOP", audited, StringComparison.Ordinal);
        Assert.Contains(SecretDetector.Placeholder, audited, StringComparison.Ordinal);
    }

    [Fact]
    public void Audited_arguments_are_truncated_and_keep_the_rest_of_the_call()
    {
        var audited = AspireAi.Core.Documents.Tools.ToolCallAudit.RedactArguments(
            JsonSerializer.Serialize(new { query = "tea " + new string('x', 5000), top_k = 3 }));

        Assert.Equal(AspireAi.Core.Documents.Tools.ToolCallAudit.MaxArgumentsChars + 1, audited.Length);
        Assert.StartsWith("""{"query":"tea xxx""", audited, StringComparison.Ordinal);
        Assert.Equal("""{"query":"tea","top_k":3}""", AspireAi.Core.Documents.Tools.ToolCallAudit.RedactArguments("""{"query":"tea","top_k":3}"""));
    }

    private static async Task<List<SseEvent>> AskStreamingAsync(HttpClient client, Guid conversation, string question)
    {
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = question }), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await SseReader.ReadAllAsync(response);
    }

    private static async Task<JsonElement> AskAsync(HttpClient client, Guid conversation, string question)
    {
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = question }, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static IEnumerable<Guid> CitedDocuments(JsonElement reply) =>
        reply.GetProperty("citations").EnumerateArray().Select(c => c.GetProperty("documentId").GetGuid());
}
