using System.ClientModel;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Encryption;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using OpenAI.Chat;
using OpenAI.Embeddings;

namespace AspireAi.Tests.OpenAiCompat;

/// <summary>The OpenAI .NET SDK against <c>/v1/chat/completions</c>, <c>/v1/embeddings</c> and <c>/v1/models</c>, authenticated with an API key.</summary>
public sealed class OpenAiSdkTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_plain_completion_answers_charges_the_ledger_and_feeds_memory_extraction_without_a_conversation()
    {
        var caller = await factory.CreateApiKeyUserAsync();
        var chat = factory.Sdk(caller.ApiKey).GetChatClient(OpenAiCompatTestData.ChatModel);

        ChatCompletion completion = await chat.CompleteChatAsync(
            [new SystemChatMessage("Be brief."), new UserChatMessage("I live in Lisbon and I work at Acme Corp. Say hello.")]);

        Assert.Equal(ChatFinishReason.Stop, completion.FinishReason);
        Assert.Equal(OpenAiCompatTestData.ChatModel, completion.Model);
        Assert.StartsWith("chatcmpl-", completion.Id, StringComparison.Ordinal);
        Assert.StartsWith("(offline model)", completion.Content[0].Text, StringComparison.Ordinal);
        Assert.True(completion.Usage.InputTokenCount > 0 && completion.Usage.OutputTokenCount > 0);

        // Charged like native chat, without a conversation; no message rows are written.
        var charged = await factory.ScalarAsync<long>(
            "SELECT sum(input_tokens + output_tokens) FROM usage_ledger WHERE user_id = $1 AND operation = 'chat' AND conversation_id IS NULL AND message_id IS NULL",
            caller.User.Id);
        Assert.Equal(completion.Usage.TotalTokenCount, charged);
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM conversations WHERE user_id = $1", caller.User.Id));
        // The exchange went to memory extraction as an API source of the user's message and the answer.
        var input = await factory.ScalarAsync<string>("SELECT input::text FROM memory_sources WHERE user_id = $1 AND kind = 'api'", caller.User.Id);
        Assert.Contains("I live in Lisbon", input, StringComparison.Ordinal);
        Assert.Contains("(offline model)", input, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_streamed_completion_reports_usage_and_is_stored_in_the_conversation_the_header_names()
    {
        var caller = await factory.CreateApiKeyUserAsync();
        caller.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", caller.ApiKey);
        using var created = await caller.Client.PostAsJsonAsync("/v1/conversations", new { title = "from an OpenAI client" });
        var conversationId = (await created.ReadJsonAsync()).GetProperty("id").GetGuid();
        var chat = factory.Sdk(caller.ApiKey, http => http.DefaultRequestHeaders.Add("X-AspireAi-Conversation", conversationId.ToString()))
            .GetChatClient(OpenAiCompatTestData.ChatModel);

        var text = new StringBuilder();
        ChatTokenUsage? usage = null;
        ChatFinishReason? finish = null;
        var updates = 0;
        await foreach (var update in chat.CompleteChatStreamingAsync([new UserChatMessage("Tell me something about streaming answers word by word.")]))
        {
            updates++;
            foreach (var part in update.ContentUpdate)
            {
                text.Append(part.Text);
            }
            usage = update.Usage ?? usage;
            finish = update.FinishReason ?? finish;
        }

        Assert.True(updates > 3, $"Only {updates} updates: the answer was not streamed.");
        Assert.Equal(ChatFinishReason.Stop, finish);
        Assert.NotNull(usage); // the SDK asks for stream_options.include_usage itself
        Assert.StartsWith("(offline model)", text.ToString(), StringComparison.Ordinal);

        // Persisted like a native turn: the user's message and the complete answer, charged to the conversation,
        // and a chat memory source for the exchange.
        await using var command = factory.DataSource.CreateCommand(
            "SELECT role, content, key_id, content_ct, status, input_tokens, output_tokens FROM messages WHERE conversation_id = $1 ORDER BY sequence");
        command.Parameters.Add(new() { Value = conversationId });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("user", "Tell me something about streaming answers word by word.", "complete"),
            (reader.GetString(0), await TestCipher.OpenAsync(factory.DataSource, reader, 1, EncryptedField.MessageContent), reader.GetString(4)));
        Assert.True(await reader.ReadAsync());
        Assert.Equal(("assistant", text.ToString(), "complete"),
            (reader.GetString(0), await TestCipher.OpenAsync(factory.DataSource, reader, 1, EncryptedField.MessageContent), reader.GetString(4)));
        Assert.Equal((usage!.InputTokenCount, usage.OutputTokenCount), (reader.GetInt32(5), reader.GetInt32(6)));
        Assert.False(await reader.ReadAsync());
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM usage_ledger WHERE conversation_id = $1", conversationId));
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM memory_sources WHERE conversation_id = $1 AND kind = 'chat'", conversationId));
    }

    [Fact]
    public async Task A_client_tool_is_called_by_the_model_returned_to_the_client_and_its_result_answered()
    {
        var caller = await factory.CreateApiKeyUserAsync();
        var chat = factory.Sdk(caller.ApiKey).GetChatClient(OpenAiCompatTestData.ChatModel);
        var weather = ChatTool.CreateFunctionTool("get_weather", "Gets the current weather for a city.", BinaryData.FromString("""
            { "type": "object", "properties": { "city": { "type": "string", "description": "The city" } }, "required": ["city"] }
            """));
        var options = new ChatCompletionOptions { Tools = { weather } };
        List<ChatMessage> messages = [new UserChatMessage("What is the weather in Lisbon?")];

        ChatCompletion first = await chat.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.ToolCalls, first.FinishReason);
        var call = Assert.Single(first.ToolCalls);
        Assert.Equal("get_weather", call.FunctionName);
        Assert.False(string.IsNullOrEmpty(call.Id));
        using (var arguments = JsonDocument.Parse(call.FunctionArguments))
        {
            Assert.Contains("Lisbon", arguments.RootElement.GetProperty("city").GetString(), StringComparison.OrdinalIgnoreCase);
        }
        // The server never ran the client's tool: nothing in the tool-call audit.
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action = 'tool.called'", caller.User.Id));

        messages.Add(new AssistantChatMessage(first));
        messages.Add(new ToolChatMessage(call.Id, "Sunny, 24 degrees"));
        ChatCompletion second = await chat.CompleteChatAsync(messages, options);

        Assert.Equal(ChatFinishReason.Stop, second.FinishReason);
        Assert.Empty(second.ToolCalls);
        Assert.Contains("get_weather tool returned: Sunny, 24 degrees", second.Content[0].Text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_json_schema_response_format_gets_JSON_that_matches_the_schema()
    {
        var caller = await factory.CreateApiKeyUserAsync();
        var chat = factory.Sdk(caller.ApiKey).GetChatClient(OpenAiCompatTestData.ChatModel);
        var options = new ChatCompletionOptions
        {
            ResponseFormat = ChatResponseFormat.CreateJsonSchemaFormat("city_facts", BinaryData.FromString("""
                {
                  "type": "object",
                  "properties": { "city": { "type": "string" }, "population": { "type": "integer" }, "coastal": { "type": "boolean" } },
                  "required": ["city", "population", "coastal"],
                  "additionalProperties": false
                }
                """), jsonSchemaIsStrict: true),
        };

        ChatCompletion completion = await chat.CompleteChatAsync([new UserChatMessage("Give me facts about Lisbon.")], options);

        using var json = JsonDocument.Parse(completion.Content[0].Text);
        Assert.Equal(["city", "coastal", "population"], json.RootElement.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(JsonValueKind.String, json.RootElement.GetProperty("city").ValueKind);
        Assert.True(json.RootElement.GetProperty("population").TryGetInt64(out _));
        Assert.True(json.RootElement.GetProperty("coastal").ValueKind is JsonValueKind.True or JsonValueKind.False);
    }

    [Fact]
    public async Task Embeddings_come_from_the_configured_embedder_in_base64_and_float_and_are_charged()
    {
        var caller = await factory.CreateApiKeyUserAsync();
        var embeddings = factory.Sdk(caller.ApiKey).GetEmbeddingClient(OpenAiCompatTestData.EmbeddingModel);

        // The SDK asks for base64 and decodes it.
        OpenAIEmbeddingCollection result = await embeddings.GenerateEmbeddingsAsync(["I live in Lisbon", "Where does the user live? Lisbon, Portugal", "My favourite food is sushi"]);

        Assert.Equal(3, result.Count);
        var vectors = result.Select(e => e.ToFloats().ToArray()).ToList();
        Assert.All(vectors, v => Assert.Equal(384, v.Length));
        Assert.All(vectors, v => Assert.InRange(Math.Sqrt(v.Sum(x => (double)x * x)), 0.999, 1.001));
        Assert.True(Cosine(vectors[0], vectors[1]) > Cosine(vectors[0], vectors[2]) + 0.2);
        Assert.True(result.Usage.InputTokenCount > 0);

        // The float encoding carries the same numbers.
        caller.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", caller.ApiKey);
        using var response = await caller.Client.PostAsJsonAsync("/v1/embeddings", new { model = OpenAiCompatTestData.EmbeddingModel, input = "I live in Lisbon", encoding_format = "float" });
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal("list", body.GetProperty("object").GetString());
        var floats = body.GetProperty("data")[0].GetProperty("embedding").EnumerateArray().Select(e => e.GetSingle()).ToArray();
        Assert.Equal(vectors[0], floats);

        Assert.Equal(2L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM usage_ledger WHERE user_id = $1 AND operation = 'embeddings' AND model = $2 AND input_tokens > 0", caller.User.Id, OpenAiCompatTestData.EmbeddingModel));
    }

    [Fact]
    public async Task Errors_come_in_OpenAI_shape_with_OpenAI_status_codes_and_store_nothing()
    {
        var caller = await factory.CreateApiKeyUserAsync();

        // The SDK surfaces the status and OpenAI's error code.
        var unknown = factory.Sdk(caller.ApiKey).GetChatClient("gpt-unknown");
        var error = await Assert.ThrowsAsync<ClientResultException>(() => unknown.CompleteChatAsync([new UserChatMessage("Hello")]));
        Assert.Equal(404, error.Status);
        Assert.Contains("model_not_found", error.Message, StringComparison.Ordinal);

        // A wrong key: 401 in OpenAI's shape, not ProblemDetails.
        var wrongKey = factory.Sdk(caller.ApiKey[..^4] + "AAAA").GetChatClient(OpenAiCompatTestData.ChatModel);
        var unauthorized = await Assert.ThrowsAsync<ClientResultException>(() => wrongKey.CompleteChatAsync([new UserChatMessage("Hello")]));
        Assert.Equal(401, unauthorized.Status);
        var body = JsonDocument.Parse(unauthorized.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("authentication_error", body.GetProperty("type").GetString());
        Assert.Equal("invalid_api_key", body.GetProperty("code").GetString());

        // Invalid input names the parameter.
        caller.Client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", caller.ApiKey);
        await AssertInvalidAsync(caller.Client, new { model = OpenAiCompatTestData.ChatModel, messages = Array.Empty<object>() }, "messages");
        await AssertInvalidAsync(caller.Client, new { model = OpenAiCompatTestData.ChatModel, messages = new[] { new { role = "robot", content = "hi" } } }, "messages[0].role");
        await AssertInvalidAsync(caller.Client, new { model = OpenAiCompatTestData.ChatModel, messages = new[] { new { role = "user", content = "hi" } }, temperature = 3 }, "temperature");
        await AssertInvalidAsync(caller.Client, new
        {
            model = OpenAiCompatTestData.ChatModel,
            messages = new[] { new { role = "user", content = "hi" } },
            response_format = new { type = "json_schema", json_schema = new { name = "x", schema = "not a schema" } },
        }, "response_format.json_schema.schema");
        using (var notJson = await caller.Client.PostAsync("/v1/chat/completions", new StringContent("{\"model\": ", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, notJson.StatusCode);
            Assert.Equal("invalid_request_error", (await notJson.ReadJsonAsync()).GetProperty("error").GetProperty("type").GetString());
        }
        using (var valid = await caller.Client.PostAsJsonAsync("/v1/chat/completions", new { model = OpenAiCompatTestData.ChatModel, messages = new[] { new { role = "user", content = "hi" } } },
            CancellationToken.None))
        {
            Assert.Equal(HttpStatusCode.OK, valid.StatusCode); // a valid request on the same key works
        }
        using (var otherConversation = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new { model = OpenAiCompatTestData.ChatModel, messages = new[] { new { role = "user", content = "hi" } } }),
        })
        {
            otherConversation.Headers.Add("X-AspireAi-Conversation", Guid.NewGuid().ToString());
            using var notFound = await caller.Client.SendAsync(otherConversation);
            Assert.Equal(HttpStatusCode.NotFound, notFound.StatusCode);
            Assert.Equal("conversation_not_found", (await notFound.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
        }

        // Only the one valid request was charged.
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM usage_ledger WHERE user_id = $1", caller.User.Id));
    }

    [Fact]
    public async Task The_daily_budget_applies_with_OpenAIs_quota_error()
    {
        using var limited = factory.WithSettings(new Dictionary<string, string?> { ["Chat:DailyTokenBudget"] = "1" });
        var caller = await limited.CreateApiKeyUserAsync();
        var chat = limited.Sdk(caller.ApiKey).GetChatClient(OpenAiCompatTestData.ChatModel);

        await chat.CompleteChatAsync([new UserChatMessage("Hello there")]);
        var refused = await Assert.ThrowsAsync<ClientResultException>(() => chat.CompleteChatAsync([new UserChatMessage("Hello again")]));

        Assert.Equal(429, refused.Status);
        var error = JsonDocument.Parse(refused.GetRawResponse()!.Content.ToString()).RootElement.GetProperty("error");
        Assert.Equal("insufficient_quota", error.GetProperty("code").GetString());
        Assert.Equal(1L, await limited.ScalarAsync<long>("SELECT count(*) FROM usage_ledger WHERE user_id = $1", caller.User.Id));
    }

    [Fact]
    public async Task Models_lists_the_chat_and_embedding_models()
    {
        var caller = await factory.CreateApiKeyUserAsync();
        var models = factory.Sdk(caller.ApiKey).GetOpenAIModelClient();

        var list = (await models.GetModelsAsync()).Value;

        Assert.Equal([OpenAiCompatTestData.EmbeddingModel, OpenAiCompatTestData.ChatModel], list.Select(m => m.Id).Order(StringComparer.Ordinal));
        Assert.Equal(OpenAiCompatTestData.ChatModel, (await models.GetModelAsync(OpenAiCompatTestData.ChatModel)).Value.Id);
        var missing = await Assert.ThrowsAsync<ClientResultException>(() => models.GetModelAsync("gpt-unknown"));
        Assert.Equal(404, missing.Status);
    }

    private static async Task AssertInvalidAsync(HttpClient client, object request, string param)
    {
        using var response = await client.PostAsJsonAsync("/v1/chat/completions", request);
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var error = (await response.ReadJsonAsync()).GetProperty("error");
        Assert.Equal("invalid_request_error", error.GetProperty("type").GetString());
        Assert.Equal(param, error.GetProperty("param").GetString());
        Assert.False(string.IsNullOrEmpty(error.GetProperty("message").GetString()));
    }

    private static double Cosine(float[] a, float[] b) => a.Zip(b, (x, y) => (double)x * y).Sum();
}
