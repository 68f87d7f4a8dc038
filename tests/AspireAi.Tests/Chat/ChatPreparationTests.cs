using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Llm;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;
using AspireAi.Tests.Memory;

namespace AspireAi.Tests.Chat;

/// <summary>
/// What a turn sends the model before its first token, on both chat APIs: the question is embedded once (the early
/// start, memory retrieval and document retrieval share one model call), the user's message is stored before the
/// model is called, and retrieved context arrives as data, never as system text.
/// </summary>
public sealed class ChatPreparationTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Fact = "The user's favourite colour is green.";

    [Fact]
    public async Task Both_APIs_embed_the_question_once_store_the_message_first_and_send_memories_as_data()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();
        var settings = ChatFailureTests.OpenAiSettings(fake);
        // Embeddings from the fake server too, so that every embedding of the question is a request it records.
        settings["Llm:EmbeddingProvider"] = null;
        settings["Llm:EmbeddingModel"] = "fake-embedding";
        settings["Memory:MinScore"] = "0";
        await using var api = factory.WithSettings(settings);
        var (client, user) = await api.CreateUserClientAsync();
        await MemoryTestData.PostMemoryAsync(client, new { text = Fact, infer = false });
        // What another connection sees of the user's messages at the moment the model is called: only committed rows.
        var committedWhenCalled = new List<long>();
        fake.DefaultChatReply = FakeOpenAiReply.Custom(async call =>
        {
            committedWhenCalled.Add(await MemoryTestData.CountAsync(api.DataSource,
                "SELECT count(*) FROM messages m JOIN conversations c ON c.id = m.conversation_id WHERE c.user_id = $1 AND m.role = 'user'", user.Id));
            await FakeOpenAiReply.Text("Green, as far as I remember.").Respond(call);
        });

        const string native = "Which colour do I like best? (asked in native chat)";
        var conversation = await ChatTestData.CreateConversationAsync(client);
        using (var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = native }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        AssertPrepared(fake, native);
        var rows = await ChatTestData.MessagesAsync(api.DataSource, conversation);
        Assert.Equal(("user", "complete", native), (rows[0].Role, rows[0].Status, rows[0].Content));
        Assert.Equal([1L], committedWhenCalled);

        const string openAi = "Which colour do I like best? (asked through /v1/chat/completions)";
        using (var response = await client.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = fake.Model,
            messages = new[] { new { role = "user", content = openAi } },
        }))
        {
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        AssertPrepared(fake, openAi);
    }

    private static void AssertPrepared(FakeOpenAiServer fake, string question)
    {
        // One embedding of the question, although memory and documents both search with it.
        Assert.Single(fake.EmbeddingRequests, r => Inputs(r.Json).Contains(question));

        var messages = fake.ChatRequests[^1].Json.GetProperty("messages").EnumerateArray()
            .Select(m => (Role: m.GetProperty("role").GetString()!, Text: m.GetProperty("content").GetString() ?? "")).ToList();
        Assert.Equal("system", messages[0].Role);
        Assert.Contains(LlmPromptBlocks.DataPolicy, messages[0].Text, StringComparison.Ordinal);
        // The memory is in a user-role data envelope, and in no system message.
        var memories = Assert.Single(messages, m => m.Text.Contains(Fact, StringComparison.Ordinal));
        Assert.Equal("user", memories.Role);
        Assert.True(LlmPromptBlocks.IsData(memories.Text), memories.Text);
        Assert.Equal(question, messages[^1].Text);
    }

    private static List<string> Inputs(JsonElement request) => request.GetProperty("input") switch
    {
        { ValueKind: JsonValueKind.Array } array => [.. array.EnumerateArray().Select(i => i.GetString() ?? "")],
        var single => [single.GetString() ?? ""],
    };
}
