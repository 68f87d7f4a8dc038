using System.Diagnostics;
using System.Text.Json;
using AspireAi.Core.Llm;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Llm;

// The OpenAI provider (Microsoft.Extensions.AI.OpenAI over the SDK) and the registered pipeline against a real HTTP
// server speaking the OpenAI protocol.
public sealed class OpenAiChatClientTests
{
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "Tell me about foxes.")];

    // The provider alone, without function invocation, to see the tool calls the model asked for.
    private static IChatClient Adapter(IServiceProvider services, FakeOpenAiServer server) => Core.Llm.OpenAi.OpenAiProvider.CreateChatClient(
        new LlmProviderOptions { Provider = LlmProvider.OpenAICompatible, Endpoint = server.Endpoint, ChatModel = "fake-gpt", ApiKey = "sk-test-secret" },
        services.GetRequiredService<IHttpClientFactory>().CreateClient(LlmExtensions.HttpClientName), TimeSpan.FromSeconds(30));

    [Fact]
    public async Task Streamed_chunks_are_reassembled_and_usage_comes_from_the_final_chunk()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        const string answer = "The quick brown fox jumps over the lazy dog.";
        server.EnqueueChat(FakeOpenAiReply.Text(answer, chunks: 5, promptTokens: 17, completionTokens: 11));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));

        var updates = await services.Chat().GetStreamingResponseAsync(Question).CollectAsync();

        Assert.Equal(answer, string.Concat(updates.Select(u => u.Text)));
        Assert.True(updates.Count(u => u.Text.Length > 0) >= 5, "each SSE chunk should surface as its own update");
        var usage = Assert.Single(updates.SelectMany(u => u.Contents).OfType<UsageContent>()).Details;
        Assert.Equal(17, usage.InputTokenCount);
        Assert.Equal(11, usage.OutputTokenCount);
        var response = updates.ToChatResponse();
        Assert.Equal(ChatFinishReason.Stop, response.FinishReason);
        Assert.Equal("fake-gpt", response.ModelId);
        Assert.Equal(28, response.Usage?.TotalTokenCount);

        var request = Assert.Single(server.ChatRequests);
        Assert.True(request.Stream);
        Assert.True(request.IncludeUsage, "a streamed request must ask for usage (stream_options.include_usage)");
        Assert.Equal("fake-gpt", request.Model);
        Assert.Equal("Bearer sk-test-secret", request.Header("Authorization"));
    }

    [Fact]
    public async Task Non_streaming_call_maps_text_usage_finish_reason_and_ids()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(FakeOpenAiReply.Text("Foxes are small omnivores.", promptTokens: 9, completionTokens: 6, finishReason: "length"));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));

        var response = await services.Chat().GetResponseAsync(Question);

        Assert.Equal("Foxes are small omnivores.", response.Text);
        Assert.Equal(ChatFinishReason.Length, response.FinishReason);
        Assert.Equal("fake-gpt", response.ModelId);
        Assert.Equal("chatcmpl-1", response.ResponseId);
        Assert.Equal(9, response.Usage?.InputTokenCount);
        Assert.Equal(6, response.Usage?.OutputTokenCount);
        Assert.False(Assert.Single(server.ChatRequests).Stream);
    }

    [Fact]
    public async Task Two_parallel_streamed_tool_calls_are_assembled_separately_by_index()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(FakeOpenAiReply.ToolCalls(
        [
            new FakeToolCall("call_a", "get_weather", """{"city":"Paris","unit":"celsius"}"""),
            new FakeToolCall("call_b", "search_documents", """{"query":"solar panels","top":3}"""),
        ], fragments: 4));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));
        using var adapter = Adapter(services, server);

        var updates = await adapter.GetStreamingResponseAsync(Question).CollectAsync();

        var calls = updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().ToList();
        Assert.Equal(2, calls.Count);
        Assert.Equal(("call_a", "get_weather"), (calls[0].CallId, calls[0].Name));
        Assert.Equal(("call_b", "search_documents"), (calls[1].CallId, calls[1].Name));
        Assert.Null(calls[0].Exception);
        Assert.Null(calls[1].Exception);
        Assert.Equal("Paris", ((JsonElement)calls[0].Arguments!["city"]!).GetString());
        Assert.Equal("celsius", ((JsonElement)calls[0].Arguments!["unit"]!).GetString());
        Assert.Equal("solar panels", ((JsonElement)calls[1].Arguments!["query"]!).GetString());
        Assert.Equal(3, ((JsonElement)calls[1].Arguments!["top"]!).GetInt32());
        Assert.Equal(2, calls[0].Arguments!.Count);
        Assert.Equal(ChatFinishReason.ToolCalls, updates.ToChatResponse().FinishReason);
        Assert.True(updates.SelectMany(u => u.Contents).OfType<UsageContent>().Single().Details.TotalTokenCount > 0);
    }

    [Fact]
    public async Task Non_streamed_tool_calls_are_mapped()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(FakeOpenAiReply.ToolCalls([new FakeToolCall("call_x", "current_time", "{}")]));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));
        using var adapter = Adapter(services, server);

        var response = await adapter.GetResponseAsync(Question);

        var call = Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>());
        Assert.Equal(("call_x", "current_time"), (call.CallId, call.Name));
        Assert.Empty(call.Arguments!);
        Assert.Equal(ChatFinishReason.ToolCalls, response.FinishReason);
        Assert.Equal(30, response.Usage?.TotalTokenCount);
    }

    [Fact]
    public async Task Messages_and_options_are_sent_as_the_OpenAI_protocol_expects()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));
        using var adapter = Adapter(services, server);
        var schema = JsonElement.Parse("""{"type":"object","properties":{"answer":{"type":"string"}},"required":["answer"]}""");
        var tool = AIFunctionFactory.CreateDeclaration("search_documents", "Searches the user's documents.",
            JsonElement.Parse("""{"type":"object","properties":{"query":{"type":"string"}},"required":["query"]}"""));
        ChatMessage[] messages =
        [
            new(ChatRole.System, "Be brief."),
            new(ChatRole.User, "Find the warranty terms."),
            new(ChatRole.Assistant, [new FunctionCallContent("call_1", "search_documents", new Dictionary<string, object?> { ["query"] = "warranty" })]),
            new(ChatRole.Tool, [new FunctionResultContent("call_1", "Two years from purchase.")]),
        ];

        await adapter.GetResponseAsync(messages, new ChatOptions
        {
            Temperature = 0.25f,
            TopP = 0.5f,
            MaxOutputTokens = 123,
            StopSequences = ["END"],
            Tools = [tool],
            ToolMode = ChatToolMode.RequireSpecific("search_documents"),
            ResponseFormat = ChatResponseFormat.ForJsonSchema(schema, "warranty_answer"),
        });

        var body = Assert.Single(server.ChatRequests).Json;
        Assert.Equal(0.25, body.GetProperty("temperature").GetDouble(), 3);
        Assert.Equal(0.5, body.GetProperty("top_p").GetDouble(), 3);
        Assert.Equal(123, body.GetProperty("max_completion_tokens").GetInt32());
        Assert.Equal("END", body.GetProperty("stop")[0].GetString());
        var function = body.GetProperty("tools")[0].GetProperty("function");
        Assert.Equal("search_documents", function.GetProperty("name").GetString());
        Assert.Equal("query", function.GetProperty("parameters").GetProperty("required")[0].GetString());
        Assert.Equal("search_documents", body.GetProperty("tool_choice").GetProperty("function").GetProperty("name").GetString());
        var format = body.GetProperty("response_format");
        Assert.Equal("json_schema", format.GetProperty("type").GetString());
        Assert.Equal("warranty_answer", format.GetProperty("json_schema").GetProperty("name").GetString());

        var sent = body.GetProperty("messages").EnumerateArray().ToList();
        Assert.Equal(["system", "user", "assistant", "tool"], sent.Select(m => m.GetProperty("role").GetString()));
        var toolCall = sent[2].GetProperty("tool_calls")[0];
        Assert.Equal("call_1", toolCall.GetProperty("id").GetString());
        Assert.Equal("warranty", JsonElement.Parse(toolCall.GetProperty("function").GetProperty("arguments").GetString()!).GetProperty("query").GetString());
        Assert.Equal("call_1", sent[3].GetProperty("tool_call_id").GetString());
        Assert.Contains("Two years", sent[3].GetProperty("content").ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_429_with_Retry_After_is_retried_by_the_resilience_handler_and_then_succeeds()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(FakeOpenAiReply.Status(429, retryAfter: "1"), FakeOpenAiReply.Text("Second time lucky."));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));

        var updates = await services.Chat().GetStreamingResponseAsync(Question).CollectAsync();

        Assert.Equal("Second time lucky.", string.Concat(updates.Select(u => u.Text)));
        var requests = server.ChatRequests;
        Assert.Equal(2, requests.Count);
        Assert.Equal(requests[0].Body, requests[1].Body);
        Assert.NotNull(requests[0].Header("Idempotency-Key")); // what makes the POST replayable for the resilience handler
        Assert.Equal(requests[0].Header("Idempotency-Key"), requests[1].Header("Idempotency-Key"));
        Assert.True(requests[1].ReceivedAt - requests[0].ReceivedAt >= TimeSpan.FromMilliseconds(900),
            $"the retry should wait for Retry-After (1 s), waited {(requests[1].ReceivedAt - requests[0].ReceivedAt).TotalMilliseconds} ms");
    }

    [Fact]
    public async Task A_persistent_500_surfaces_as_an_exception_with_the_status_code_after_retries()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(FakeOpenAiReply.Status(500), FakeOpenAiReply.Status(500), FakeOpenAiReply.Status(503), FakeOpenAiReply.Status(503));
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(server))
        {
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
        });

        var error = await Assert.ThrowsAsync<LlmProviderException>(() => services.Chat().GetResponseAsync(Question));
        Assert.Equal(500, error.StatusCode);
        Assert.True(error.IsTransient);
        Assert.DoesNotContain("sk-test-secret", error.ToString(), StringComparison.Ordinal);

        var streamed = await Assert.ThrowsAsync<LlmProviderException>(() => services.Chat().GetStreamingResponseAsync(Question).CollectAsync());
        Assert.Equal(503, streamed.StatusCode);
        Assert.Equal(4, server.ChatRequests.Count);
    }

    [Fact]
    public async Task A_429_that_outlasts_the_retries_surfaces_with_its_Retry_After_hint()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.DefaultChatReply = FakeOpenAiReply.Status(429, retryAfter: "1", message: "Rate limit reached");
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(server))
        {
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
        });

        var error = await Assert.ThrowsAsync<LlmProviderException>(() => services.Chat().GetResponseAsync(Question));

        Assert.Equal(429, error.StatusCode);
        Assert.Equal(TimeSpan.FromSeconds(1), error.RetryAfter);
        Assert.Contains("Rate limit reached", error.Message, StringComparison.Ordinal);
        Assert.Equal(2, server.ChatRequests.Count);
    }

    [Fact]
    public async Task An_open_circuit_sends_calls_straight_to_the_fallback_without_touching_the_primary()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.DefaultChatReply = FakeOpenAiReply.Status(503);
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(server))
        {
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
            ["Resilience:Llm:CircuitBreaker:MinimumThroughput"] = "2",
            ["Resilience:Llm:CircuitBreaker:FailureRatio"] = "0.5",
            ["Resilience:Llm:CircuitBreaker:BreakDuration"] = "00:01:00",
            ["Llm:Fallback:Provider"] = "Offline",
        });

        // Two failed attempts open the circuit; the call itself is still answered by the fallback.
        var first = await services.Chat().GetResponseAsync(Question);
        var reachedPrimary = server.ChatRequests.Count;
        var second = await services.Chat().GetStreamingResponseAsync(Question).CollectAsync();

        Assert.Equal(OfflineModels.ChatModelId, first.ModelId);
        Assert.Equal(OfflineModels.ChatModelId, second.ToChatResponse().ModelId);
        Assert.Equal(2, reachedPrimary);
        Assert.Equal(reachedPrimary, server.ChatRequests.Count); // the open circuit failed fast, before any HTTP
    }

    [Fact]
    public async Task A_hanging_primary_times_out_and_the_fallback_server_answers()
    {
        await using var primary = await FakeOpenAiServer.StartAsync();
        await using var backup = await FakeOpenAiServer.StartAsync("backup-model");
        primary.DefaultChatReply = FakeOpenAiReply.Hang();
        backup.EnqueueChat(FakeOpenAiReply.Text("Answer from the backup.", chunks: 3));
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(primary))
        {
            ["Resilience:Llm:AttemptTimeout:Timeout"] = "00:00:00.300",
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
            ["Llm:Fallback:Provider"] = "OpenAICompatible",
            ["Llm:Fallback:Endpoint"] = backup.Endpoint.ToString(),
            ["Llm:Fallback:ChatModel"] = "backup-model",
        });

        var watch = Stopwatch.StartNew();
        var updates = await services.Chat().GetStreamingResponseAsync(Question).CollectAsync();

        Assert.Equal("Answer from the backup.", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal("backup-model", updates.ToChatResponse().ModelId);
        Assert.Equal(2, primary.ChatRequests.Count); // first attempt + one retry, each cut by the attempt timeout
        Assert.Equal("backup-model", Assert.Single(backup.ChatRequests).Model);
        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(5), $"fallback took {watch.Elapsed}");
    }

    [Fact]
    public async Task A_failing_primary_falls_back_to_the_offline_model()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.DefaultChatReply = FakeOpenAiReply.Status(500);
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(server))
        {
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
            ["Llm:Fallback:Provider"] = "Offline",
        });

        var response = await services.Chat().GetResponseAsync(Question);

        Assert.Equal(OfflineModels.ChatModelId, response.ModelId);
        Assert.Contains("(offline model)", response.Text, StringComparison.Ordinal);
        Assert.Equal("fake-gpt", response.AdditionalProperties?[FallbackChatClient.FallbackFromProperty]);
        Assert.Equal(2, server.ChatRequests.Count);
    }

    [Fact]
    public async Task A_stream_that_breaks_after_text_surfaces_the_error_instead_of_switching_provider()
    {
        await using var primary = await FakeOpenAiServer.StartAsync();
        await using var backup = await FakeOpenAiServer.StartAsync("backup-model");
        primary.EnqueueChat(FakeOpenAiReply.TextThenDisconnect("Half an answer and then", chunks: 3));
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(primary))
        {
            ["Llm:Fallback:Provider"] = "OpenAICompatible",
            ["Llm:Fallback:Endpoint"] = backup.Endpoint.ToString(),
            ["Llm:Fallback:ChatModel"] = "backup-model",
        });

        var received = new List<string>();
        await Assert.ThrowsAnyAsync<Exception>(async () =>
        {
            await foreach (var update in services.Chat().GetStreamingResponseAsync(Question))
            {
                received.Add(update.Text);
            }
        });

        Assert.StartsWith("Half", string.Concat(received), StringComparison.Ordinal);
        Assert.Empty(backup.ChatRequests);
    }

    [Fact]
    public async Task Azure_OpenAI_uses_the_v1_endpoint_with_an_api_key_header()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(FakeOpenAiReply.Text("Hello from Azure."));
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>
        {
            ["Llm:Provider"] = "AzureOpenAI",
            ["Llm:Endpoint"] = server.AzureEndpoint.ToString(),
            ["Llm:ChatModel"] = "my-gpt-deployment",
            ["Llm:ApiKey"] = "azure-secret",
            ["Llm:EmbeddingProvider"] = "Offline",
        });

        var response = await services.Chat().GetResponseAsync(Question);

        Assert.Equal("Hello from Azure.", response.Text);
        var request = Assert.Single(server.ChatRequests);
        Assert.Equal("/openai/v1/chat/completions", request.Path);
        Assert.Equal("azure-secret", request.Header("api-key"));
        Assert.Null(request.Header("Authorization"));
        Assert.Equal("my-gpt-deployment", request.Model);
    }

    [Fact]
    public async Task A_tool_round_trip_over_the_wire_runs_both_tools_and_sends_their_results_back()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueChat(
            FakeOpenAiReply.ToolCalls(
            [
                new FakeToolCall("call_a", "get_weather", """{"city":"Paris"}"""),
                new FakeToolCall("call_b", "get_weather", """{"city":"Oslo"}"""),
            ]),
            FakeOpenAiReply.Text("Paris is warmer than Oslo.", promptTokens: 40, completionTokens: 9));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));
        var weather = AIFunctionFactory.Create((string city) => city == "Paris" ? "21 C" : "4 C", "get_weather", "Current weather in a city.");

        var updates = await services.Chat().GetStreamingResponseAsync(Question, new ChatOptions { Tools = [weather] }).CollectAsync();

        var results = updates.Where(u => u.Role == ChatRole.Tool).SelectMany(u => u.Contents).OfType<FunctionResultContent>().ToList();
        Assert.Equal(["call_a", "call_b"], results.Select(r => r.CallId));
        Assert.Equal(2, updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().Count());
        Assert.EndsWith("Paris is warmer than Oslo.", string.Concat(updates.Select(u => u.Role == ChatRole.Tool ? string.Empty : u.Text)), StringComparison.Ordinal);
        Assert.Equal(2, updates.SelectMany(u => u.Contents).OfType<UsageContent>().Count()); // one per round

        var second = server.ChatRequests[1].Json.GetProperty("messages").EnumerateArray().ToList();
        var toolMessages = second.Where(m => m.GetProperty("role").GetString() == "tool").ToList();
        Assert.Equal(["call_a", "call_b"], toolMessages.Select(m => m.GetProperty("tool_call_id").GetString()));
        Assert.Equal(["21 C", "4 C"], toolMessages.Select(m => m.GetProperty("content").ToString().Trim('"')));
        Assert.Equal(2, second.Single(m => m.GetProperty("role").GetString() == "assistant").GetProperty("tool_calls").GetArrayLength());
    }

    [Fact]
    public async Task Embeddings_are_batched_ask_for_384_dimensions_and_keep_input_order()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>(LlmTestHost.Compatible(server))
        {
            ["Llm:EmbeddingModel"] = "text-embedding-3-small",
            ["Llm:EmbeddingBatchSize"] = "2",
        });
        string[] inputs = ["alpha", "bravo", "charlie", "delta", "echo"];

        var embeddings = await services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>().GenerateAsync(inputs);

        Assert.Equal(5, embeddings.Count);
        for (var i = 0; i < inputs.Length; i++)
        {
            Assert.Equal(EmbeddingDefaults.Dimensions, embeddings[i].Vector.Length);
            Assert.Equal(Offline.OfflineEmbeddingGenerator.Embed(inputs[i]), embeddings[i].Vector.ToArray());
        }

        var requests = server.EmbeddingRequests;
        Assert.Equal([2, 2, 1], requests.Select(r => r.Json.GetProperty("input").GetArrayLength()));
        Assert.All(requests, r => Assert.Equal(384, r.Json.GetProperty("dimensions").GetInt32()));
        Assert.True(embeddings.Usage?.InputTokenCount > 0);
    }

    [Fact]
    public async Task Embeddings_of_the_wrong_width_are_rejected()
    {
        await using var server = await FakeOpenAiServer.StartAsync();
        server.EnqueueEmbeddings(FakeOpenAiReply.Embeddings(dimensions: 768));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server));

        var error = await Assert.ThrowsAsync<LlmProviderException>(
            () => services.GetRequiredService<IEmbeddingGenerator<string, Embedding<float>>>().GenerateAsync(["hello"]));

        Assert.Contains("768", error.Message, StringComparison.Ordinal);
        Assert.Contains("384", error.Message, StringComparison.Ordinal);
        Assert.False(Assert.Single(server.EmbeddingRequests).Json.TryGetProperty("dimensions", out _));
    }
}
