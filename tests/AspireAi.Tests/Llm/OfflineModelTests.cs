using System.Diagnostics;
using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm;
using AspireAi.Core.Llm.Json;
using AspireAi.Offline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Llm;

public sealed class OfflineModelTests
{
    private static readonly AIFunction CurrentTime = AIFunctionFactory.Create(
        () => "2026-11-21T12:34:00Z", "current_time", "Returns the current date and time (UTC).");

    private static readonly AIFunction SearchDocuments = AIFunctionFactory.Create(
        (string query) => $"results for {query}", "search_documents", "Searches the user's uploaded documents for passages.");

    private static readonly AIFunction Remember = AIFunctionFactory.Create(
        (string fact) => "saved", "remember", "Stores a fact about the user for later conversations.");

    private static float Cosine(string left, string right) =>
        OfflineEmbeddingGenerator.CosineSimilarity(OfflineEmbeddingGenerator.Embed(left), OfflineEmbeddingGenerator.Embed(right));

    [Fact]
    public async Task Embeddings_are_deterministic_unit_length_and_384_wide()
    {
        using var generator = new OfflineEmbeddingGenerator();

        var first = await generator.GenerateAsync(["How do I reset my password?", ""]);
        var second = await generator.GenerateAsync(["How do I reset my password?"]);

        Assert.Equal(first[0].Vector.ToArray(), second[0].Vector.ToArray());
        Assert.All(first, embedding =>
        {
            Assert.Equal(EmbeddingDefaults.Dimensions, embedding.Vector.Length);
            var norm = Math.Sqrt(embedding.Vector.ToArray().Sum(v => (double)v * v));
            Assert.Equal(1.0, norm, 4);
            Assert.Equal(OfflineModels.HashingEmbeddingModelId, embedding.ModelId);
        });
        var metadata = generator.GetService<EmbeddingGeneratorMetadata>();
        Assert.Equal((OfflineModels.HashingEmbeddingModelId, 384), (metadata?.DefaultModelId, metadata?.DefaultModelDimensions));
        Assert.True(first.Usage?.InputTokenCount > 0);
    }

    [Theory]
    [InlineData("How do I reset my password?", "Steps to reset a forgotten password", "The weather in Paris is sunny today")]
    [InlineData("My favourite food is spicy Thai curry", "I really love eating spicy curry", "The invoice is due at the end of the month")]
    [InlineData("Café opening hours on Sunday", "cafe opening hours sunday", "Quarterly revenue grew by ten percent")]
    [InlineData("CRÈME BRÛLÉE RECIPE", "creme brulee recipe", "Kubernetes pod scheduling")]
    public void Similar_texts_are_much_closer_than_unrelated_ones(string text, string similar, string unrelated)
    {
        var close = Cosine(text, similar);
        var far = Cosine(text, unrelated);

        Assert.True(close > far + 0.25f, $"similar {close:0.000} vs unrelated {far:0.000}");
        Assert.True(far < 0.2f, $"unrelated texts scored {far:0.000}");
    }

    [Fact]
    public async Task The_answer_uses_relevant_memories_and_sources_and_cites_their_ids()
    {
        using var client = new OfflineChatClient();
        ChatMessage[] messages =
        [
            new(ChatRole.System, "You are a helpful assistant."),
            LlmPromptBlocks.Memories([new("m-1", "The user's dog is called Biscuit."), new("m-2", "The user lives in Lyon.")]),
            LlmPromptBlocks.Sources(
            [
                new("doc7#2", "The warranty lasts two years from the date of purchase. Keep the receipt."),
                new("doc9#1", "Our office is closed on public holidays."),
            ]),
            new(ChatRole.User, "How long is the warranty, and does it cover my dog Biscuit?"),
        ];

        var response = await client.GetResponseAsync(messages);

        Assert.StartsWith("(offline model)", response.Text, StringComparison.Ordinal);
        Assert.Contains("two years", response.Text, StringComparison.Ordinal);
        Assert.Contains("[doc7#2]", response.Text, StringComparison.Ordinal);
        Assert.Contains("Biscuit", response.Text, StringComparison.Ordinal);
        Assert.Contains("[m-1]", response.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("[doc9#1]", response.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("[m-2]", response.Text, StringComparison.Ordinal);
        Assert.Equal(OfflineModels.ChatModelId, response.ModelId);
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
    }

    [Fact]
    public async Task With_the_local_embedder_memories_are_chosen_by_meaning_not_by_their_order()
    {
        using var embedder = new MiniLmEmbeddingGenerator(new OfflineLlmOptions(), 8);
        using var client = new OfflineChatClient(embedder: embedder);
        var memories = LlmPromptBlocks.Memories(
            [new("m-1", "Works at Globex"), new("m-2", "Uses Stripe"), new("m-3", "Is vegan"), new("m-4", "Lives in Porto")]);

        // No word in common with the memory that answers it, which comes last.
        var home = await client.GetResponseAsync([memories, new(ChatRole.User, "Where is home for me these days?")]);
        Assert.Contains("Lives in Porto. [m-4]", home.Text, StringComparison.Ordinal);
        Assert.DoesNotContain("[m-2]", home.Text, StringComparison.Ordinal);

        // A question about something else is not answered from memories it merely resembles.
        var capital = await client.GetResponseAsync([memories, new(ChatRole.User, "What is the capital of France?")]);
        Assert.DoesNotContain("[m-", capital.Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Questions_about_the_user_are_answered_from_memories_even_without_shared_words()
    {
        using var client = new OfflineChatClient();

        var response = await client.GetResponseAsync(
        [
            LlmPromptBlocks.Memories([new("m-9", "Prefers short answers.")]),
            new(ChatRole.User, "What do you know about me?"),
        ]);

        Assert.Contains("Prefers short answers. [m-9]", response.Text, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("What time is it?", "current_time", null, null)]
    [InlineData("Search my documents for quarterly revenue", "search_documents", "query", "quarterly revenue")]
    [InlineData("Please find documents about solar panels.", "search_documents", "query", "solar panels")]
    [InlineData("Remember that my sister is called Jane.", "remember", "fact", "my sister is called Jane")]
    public async Task A_tool_is_requested_when_the_message_asks_for_what_it_provides(string message, string tool, string? argument, string? value)
    {
        using var client = new OfflineChatClient();

        var response = await client.GetResponseAsync([new(ChatRole.User, message)], new ChatOptions { Tools = [CurrentTime, SearchDocuments, Remember] });

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(tool, call.Name);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        if (argument is not null)
        {
            Assert.Equal(value, call.Arguments![argument]);
        }

        var arguments = JsonSerializer.SerializeToElement(call.Arguments, AIJsonUtilities.DefaultOptions);
        var schema = new[] { CurrentTime, SearchDocuments, Remember }.Single(t => t.Name == tool).JsonSchema;
        Assert.Empty(JsonSchemaValidator.Validate(schema, arguments));
    }

    [Fact]
    public async Task No_tool_is_requested_for_unrelated_messages_or_when_tools_are_disabled()
    {
        using var client = new OfflineChatClient();
        var tools = new ChatOptions { Tools = [CurrentTime, SearchDocuments, Remember] };

        var unrelated = await client.GetResponseAsync([new(ChatRole.User, "Write a haiku about autumn leaves.")], tools);
        var disabled = await client.GetResponseAsync([new(ChatRole.User, "What time is it?")], new ChatOptions { Tools = tools.Tools, ToolMode = ChatToolMode.None });

        Assert.Empty(unrelated.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Empty(disabled.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
    }

    [Fact]
    public async Task With_the_registered_pipeline_the_offline_model_calls_the_tool_and_answers_with_its_result()
    {
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>());

        var updates = await services.Chat().GetStreamingResponseAsync(
            [new(ChatRole.User, "what time is it?")], new ChatOptions { Tools = [CurrentTime] }).CollectAsync();

        Assert.Equal("current_time", Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>()).Name);
        Assert.Single(updates.Where(u => u.Role == ChatRole.Tool).SelectMany(u => u.Contents).OfType<FunctionResultContent>());
        var answer = string.Concat(updates.Select(u => u.Text));
        Assert.Contains("(offline model)", answer, StringComparison.Ordinal);
        Assert.Contains("2026-11-21T12:34:00Z", answer, StringComparison.Ordinal);
        Assert.All(updates.SelectMany(u => u.Contents).OfType<UsageContent>(), usage => Assert.True(usage.Details.OutputTokenCount > 0));
    }

    [Fact]
    public async Task Structured_output_validates_against_the_requested_schema()
    {
        using var client = new OfflineChatClient();
        var schema = JsonElement.Parse("""
            {
              "type": "object",
              "properties": {
                "title": { "type": "string", "maxLength": 30 },
                "sentiment": { "type": "string", "enum": ["positive", "neutral", "negative"] },
                "confidence": { "type": "number", "minimum": 0, "maximum": 1 },
                "keywords": { "type": "array", "items": { "type": "string" }, "minItems": 1, "maxItems": 5 },
                "facts": { "type": "array", "items": { "$ref": "#/$defs/fact" } },
                "language": { "type": ["string", "null"] },
                "priority": { "type": "integer", "minimum": 1, "maximum": 5 },
                "urgent": { "type": "boolean" }
              },
              "required": ["title", "sentiment", "confidence", "keywords", "facts", "language", "priority", "urgent"],
              "additionalProperties": false,
              "$defs": { "fact": { "type": "object", "properties": { "text": { "type": "string" } }, "required": ["text"] } }
            }
            """);

        var response = await client.GetResponseAsync(
            [new(ChatRole.User, "I feel negative about the delayed shipment of my new laptop order.")],
            new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "ticket_triage") });

        var json = JsonElement.Parse(response.Text);
        Assert.Empty(JsonSchemaValidator.Validate(schema, json));
        Assert.Equal("negative", json.GetProperty("sentiment").GetString());
        var keywords = json.GetProperty("keywords").EnumerateArray().Select(k => k.GetString()!).ToList();
        Assert.NotEmpty(keywords);
        Assert.All(keywords, keyword => Assert.Contains(keyword, "i feel negative about the delayed shipment of my new laptop order", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_registered_structured_responder_answers_its_schema_and_is_held_to_it()
    {
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(), s => s.AddOfflineStructuredResponder<FactExtractor>());
        var schema = JsonElement.Parse("""{"type":"object","properties":{"facts":{"type":"array","items":{"type":"string"}}},"required":["facts"]}""");

        var response = await services.Chat().GetResponseAsync(
            [new(ChatRole.User, "I live in Lyon. I have a dog.")],
            new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, FactExtractor.Name) });

        Assert.Equal("""{"facts":["I live in Lyon.","I have a dog."]}""", response.Text);

        var broken = JsonElement.Parse("""{"type":"object","properties":{"facts":{"type":"array","items":{"type":"integer"}}},"required":["facts"]}""");
        await Assert.ThrowsAsync<InvalidOperationException>(() => services.Chat().GetResponseAsync(
            [new(ChatRole.User, "I live in Lyon.")], new ChatOptions { ResponseFormat = ChatResponseFormat.ForJsonSchema(broken, FactExtractor.Name) }));
    }

    [Fact]
    public async Task Usage_is_never_zero_streaming_or_not()
    {
        using var client = new OfflineChatClient();
        ChatMessage[] hi = [new(ChatRole.User, "hi")];

        var response = await client.GetResponseAsync(hi);
        var updates = await client.GetStreamingResponseAsync(hi).CollectAsync();

        Assert.True(response.Usage?.InputTokenCount > 0 && response.Usage.OutputTokenCount > 0);
        var streamed = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.True(streamed.InputTokenCount > 0 && streamed.OutputTokenCount > 0);
        Assert.Equal(response.Text, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count(u => u.Text.Length > 0) > 3, "the answer should stream in word-sized chunks");
        Assert.All(updates, u => Assert.Equal(OfflineModels.ChatModelId, u.ModelId));
        Assert.Equal(ChatFinishReason.Stop, updates[^1].FinishReason);
    }

    [Fact]
    public async Task Cancelling_mid_stream_stops_promptly()
    {
        using var client = new OfflineChatClient(options: new OfflineLlmOptions { TokenDelayMs = 100 });
        using var cts = new CancellationTokenSource();
        var received = 0;
        var watch = Stopwatch.StartNew();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(async () =>
        {
            await foreach (var update in client.GetStreamingResponseAsync([new(ChatRole.User, "Tell me a long story about the sea.")], cancellationToken: cts.Token))
            {
                if (++received == 2)
                {
                    await cts.CancelAsync();
                }
            }
        });

        Assert.Equal(2, received);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(1), $"took {watch.Elapsed}");
    }

    private sealed class FactExtractor : IOfflineStructuredResponder
    {
        public const string Name = "fact_extraction";

        public string SchemaName => Name;

        public ValueTask<JsonNode?> RespondAsync(OfflineStructuredRequest request, CancellationToken cancellationToken)
        {
            var sentences = request.UserText.Split(". ", StringSplitOptions.RemoveEmptyEntries).Select(s => s.TrimEnd('.') + ".");
            var items = request.Schema.GetProperty("properties").GetProperty("facts").GetProperty("items").GetProperty("type").GetString() == "integer"
                ? new JsonArray(JsonValue.Create("not a number"))
                : new JsonArray([.. sentences.Select(s => (JsonNode)JsonValue.Create(s))]);
            return ValueTask.FromResult<JsonNode?>(new JsonObject { ["facts"] = items });
        }
    }
}
