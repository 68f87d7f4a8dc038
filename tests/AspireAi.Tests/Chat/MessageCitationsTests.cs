using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Documents;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;

namespace AspireAi.Tests.Chat;

/// <summary>
/// Citations travel with the answer: the done event, the stored message and the messages endpoints agree, and the
/// passages the model found with <c>search_documents</c> are cited too — never another user's.
/// </summary>
public sealed class MessageCitationsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task The_citations_of_the_done_event_are_stored_with_the_answer_and_returned_with_its_message()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var project = DocumentsTestData.Unique("PRJ");
        var code = DocumentsTestData.Unique("CODE");
        var document = await DocumentsTestData.IngestTextAsync(client, "Launch procedures",
            $"The launch code for project {project} is {code}. It must be entered twice before the countdown starts.");
        var documentId = document.GetProperty("id").GetGuid();
        var conversation = await ChatTestData.CreateConversationAsync(client);

        var done = Done(await AskStreamingAsync(client, conversation, $"What is the launch code for project {project}?"));
        var messageId = done.GetProperty("messageId").GetGuid();
        var cited = Citations(done);

        Assert.Contains(cited, c => c.DocumentId == documentId);
        var page = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}/messages");
        var listed = page.GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == messageId);
        var question = page.GetProperty("items").EnumerateArray().Single(m => m.GetProperty("id").GetGuid() == done.GetProperty("userMessageId").GetGuid());
        var single = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}/messages/{messageId}");
        Assert.Equal(cited, Citations(listed));
        Assert.Equal(cited, Citations(single));
        Assert.Equal(Ids(done.GetProperty("memoryIds")), Ids(single.GetProperty("memoryIds")));
        Assert.Empty(Citations(question));
        // The row itself, not only the endpoint, holds them: a reload after a restart shows the same sources.
        await using var command = factory.DataSource.CreateCommand("SELECT citations::text FROM messages WHERE id = $1");
        command.Parameters.Add(new() { Value = messageId });
        Assert.Equal(cited, CitationsIn(JsonElement.Parse((string)(await command.ExecuteScalarAsync())!)));
    }

    [Fact]
    public async Task Passages_the_search_documents_tool_returned_to_the_model_are_cited_and_stored_each_chunk_once()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (client, _) = await api.CreateUserClientAsync();
        var topic = DocumentsTestData.Unique("ZEB");
        var document = await DocumentsTestData.IngestTextAsync(client, "Zebra notes", $"The zebra enclosure {topic} is cleaned every Thursday.");
        var documentId = document.GetProperty("id").GetGuid();
        var conversation = await ChatTestData.CreateConversationAsync(client);
        fake.EnqueueChat(SearchCall($"zebra enclosure {topic}"), FakeOpenAiReply.Text("It is cleaned every Thursday [S1]."));

        // A greeting: the documents context has nothing for it, so only the tool can bring the passage in.
        var events = await AskStreamingAsync(client, conversation, "Good morning!");
        var done = Done(events);
        var returned = ToolPassages(events);

        Assert.DoesNotContain(topic, fake.ChatRequests[0].Body, StringComparison.Ordinal);
        Assert.DoesNotContain("Zebra notes", fake.ChatRequests[0].Body, StringComparison.Ordinal);
        Assert.Contains(topic, fake.ChatRequests[1].Body, StringComparison.Ordinal);
        var chunk = Assert.Single(returned, p => p.DocumentId == documentId);
        // Exactly what the tool returned (the context contributed nothing), in its order.
        Assert.Equal(returned.Distinct(), Citations(done));
        var stored = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}/messages/{done.GetProperty("messageId").GetGuid()}");
        Assert.Equal(Citations(done), Citations(stored));

        // Now the context finds the passage as [S1] and the tool returns it again: cited once, at its context place.
        fake.EnqueueChat(SearchCall($"zebra enclosure {topic}"), FakeOpenAiReply.Text("Thursdays [S1]."));
        var second = await AskStreamingAsync(client, conversation, $"When is the zebra enclosure {topic} cleaned?");

        // The title reaches the model only through the sources block (history holds texts, not tool results).
        Assert.Contains("Zebra notes", fake.ChatRequests[2].Body, StringComparison.Ordinal);
        Assert.Contains(chunk, ToolPassages(second));
        Assert.Single(Citations(Done(second)), c => c == chunk);
    }

    [Fact]
    public async Task A_model_searching_for_another_users_document_never_cites_it()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        await using var api = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake));
        var (alice, _) = await api.CreateUserClientAsync();
        var (bob, _) = await api.CreateUserClientAsync();
        var code = DocumentsTestData.Unique("SAFE");
        var document = await DocumentsTestData.IngestTextAsync(alice, "Alice's safe", $"The combination of Alice's safe is {code}.");
        var documentId = document.GetProperty("id").GetGuid();
        // By words, and by the document's id should the model have learnt it somewhere.
        var calls = FakeOpenAiReply.ToolCalls(
        [
            new FakeToolCall("call_words", "search_documents", JsonSerializer.Serialize(new { query = $"combination safe {code}" })),
            new FakeToolCall("call_id", "search_documents", JsonSerializer.Serialize(new { query = code, document_ids = new[] { documentId } })),
        ]);

        var bobsConversation = await ChatTestData.CreateConversationAsync(bob);
        fake.EnqueueChat(calls, FakeOpenAiReply.Text("I found nothing [S1]."));
        var bobs = await AskStreamingAsync(bob, bobsConversation, "Hello there");
        fake.EnqueueChat(calls, FakeOpenAiReply.Text("It is in your notes [S1]."));
        var alices = await AskStreamingAsync(alice, await ChatTestData.CreateConversationAsync(alice), "Hello there");

        Assert.DoesNotContain(ToolPassages(bobs), p => p.DocumentId == documentId);
        Assert.Empty(Citations(Done(bobs)));
        var bobsMessage = await bob.GetFromJsonAsync<JsonElement>($"/v1/conversations/{bobsConversation}/messages/{Done(bobs).GetProperty("messageId").GetGuid()}");
        Assert.Empty(Citations(bobsMessage));
        // The same script for the owner does cite it: the filter above is the user's scope, not a broken tool.
        Assert.Contains(Citations(Done(alices)), c => c.DocumentId == documentId);
    }

    private static FakeOpenAiReply SearchCall(string query) => FakeOpenAiReply.ToolCalls(
        [new FakeToolCall("call_search", "search_documents", JsonSerializer.Serialize(new { query }))]);

    private static async Task<List<SseEvent>> AskStreamingAsync(HttpClient client, Guid conversation, string question)
    {
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = question }), HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await SseReader.ReadAllAsync(response);
    }

    private static JsonElement Done(List<SseEvent> events)
    {
        Assert.Equal("done", events[^1].Event);
        return events[^1].Data;
    }

    internal sealed record Cited(Guid DocumentId, string Title, Guid ChunkId);

    private static List<Cited> Citations(JsonElement message) => CitationsIn(message.GetProperty("citations"));

    private static List<Cited> CitationsIn(JsonElement array) =>
        [.. array.EnumerateArray().Select(c =>
            new Cited(c.GetProperty("documentId").GetGuid(), c.GetProperty("title").GetString()!, c.GetProperty("chunkId").GetGuid()))];

    private static List<Guid> Ids(JsonElement array) => [.. array.EnumerateArray().Select(e => e.GetGuid())];

    // The passages search_documents handed to the model, from the tool_result events.
    private static List<Cited> ToolPassages(List<SseEvent> events) =>
        [.. events.Where(e => e.Event == "tool_result" && !e.Data.GetProperty("isError").GetBoolean())
            .SelectMany(e => JsonElement.Parse(e.Data.GetProperty("result").GetString()!).GetProperty("results").EnumerateArray())
            .Select(p => new Cited(p.GetProperty("documentId").GetGuid(), p.GetProperty("title").GetString()!, p.GetProperty("chunkId").GetGuid()))];
}
