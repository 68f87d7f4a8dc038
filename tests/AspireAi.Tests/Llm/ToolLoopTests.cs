using System.Diagnostics;
using AspireAi.Core.Llm;
using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Llm.Pipeline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Llm;

// The tool loop of the registered pipeline (Microsoft.Extensions.AI's function invocation with the project's
// ToolInvoker) around a scripted model.
public sealed class ToolLoopTests
{
    private static readonly ChatMessage[] Question = [new(ChatRole.User, "Compare the weather in Paris and Oslo.")];

    private static IChatClient Loop(IChatClient model, ToolLoopOptions? options = null, params IToolCallObserver[] observers)
    {
        options ??= new ToolLoopOptions { ToolTimeoutSeconds = 2 };
        var services = LlmTestHost.Create(
            new Dictionary<string, string?>
            {
                ["Llm:ToolLoop:MaxRounds"] = options.MaxRounds.ToString(CultureInfo.InvariantCulture),
                ["Llm:ToolLoop:ToolTimeoutSeconds"] = options.ToolTimeoutSeconds.ToString(CultureInfo.InvariantCulture),
                ["Llm:ToolLoop:AllowParallel"] = options.AllowParallel.ToString(),
                ["Llm:ToolLoop:IncludeErrorDetails"] = options.IncludeErrorDetails.ToString(),
            },
            s =>
            {
                foreach (var observer in observers)
                {
                    s.AddSingleton(observer);
                }
            });
        return LlmExtensions.BuildChatClient(services, model);
    }

    private static FunctionCallContent Call(string id, string name, Dictionary<string, object?>? arguments = null) =>
        new(id, name, arguments ?? []);

    private static List<FunctionResultContent> ResultsSentBack(ScriptedChatClient model, int call) =>
        [.. model.Calls[call].Messages.Where(m => m.Role == ChatRole.Tool).SelectMany(m => m.Contents).OfType<FunctionResultContent>()];

    [Fact]
    public async Task Two_requested_tools_run_concurrently_and_their_results_reach_the_model()
    {
        var running = 0;
        var peak = 0;
        var bothStarted = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        async Task<string> Weather(string city)
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref peak, now);
            if (now == 2)
            {
                bothStarted.TrySetResult();
            }

            // Run one after the other, the first call would wait here until its timeout.
            await bothStarted.Task.WaitAsync(TimeSpan.FromSeconds(5));
            Interlocked.Decrement(ref running);
            return city == "Paris" ? "21 C" : "4 C";
        }

        var weather = AIFunctionFactory.Create(Weather, "get_weather", "Current weather in a city.");
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(
                Call("c1", "get_weather", new() { ["city"] = "Paris" }),
                Call("c2", "get_weather", new() { ["city"] = "Oslo" })),
            (_, _) => ScriptedChatClient.Reply("Paris is warmer."));

        var response = await Loop(model).GetResponseAsync(Question, new ChatOptions { Tools = [weather] });

        Assert.Equal("Paris is warmer.", response.Messages[^1].Text);
        Assert.Equal(2, peak);
        var results = ResultsSentBack(model, 1);
        Assert.Equal(["c1", "c2"], results.Select(r => r.CallId));
        Assert.Equal(["21 C", "4 C"], results.Select(r => LlmContent.SerializeResult(r.Result)));
        Assert.Equal(30, response.Usage?.InputTokenCount); // summed over both rounds: 20 + 10
        Assert.Equal(12, response.Usage?.OutputTokenCount);
        Assert.Equal([ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant], response.Messages.Select(m => m.Role));
    }

    [Fact]
    public async Task A_throwing_tool_becomes_an_error_result_for_the_model()
    {
        var broken = AIFunctionFactory.Create(string () => throw new InvalidOperationException("database password is hunter2"), "lookup", "Looks something up.");
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(Call("c1", "lookup")),
            (_, _) => ScriptedChatClient.Reply("Sorry, the lookup failed."));

        var response = await Loop(model).GetResponseAsync(Question, new ChatOptions { Tools = [broken] });

        Assert.Equal("Sorry, the lookup failed.", response.Text);
        var result = Assert.Single(ResultsSentBack(model, 1));
        var text = LlmContent.SerializeResult(result.Result);
        Assert.StartsWith("Error:", text, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal); // details stay local by default
        Assert.IsType<InvalidOperationException>(result.Exception);
    }

    [Fact]
    public async Task Error_details_reach_the_model_only_when_enabled()
    {
        var broken = AIFunctionFactory.Create(string () => throw new InvalidOperationException("quota exceeded"), "lookup", "Looks something up.");
        var model = new ScriptedChatClient((_, _) => ScriptedChatClient.ToolCalls(Call("c1", "lookup")), (_, _) => ScriptedChatClient.Reply("ok"));

        await Loop(model, new ToolLoopOptions { IncludeErrorDetails = true }).GetResponseAsync(Question, new ChatOptions { Tools = [broken] });

        Assert.Contains("quota exceeded", LlmContent.SerializeResult(Assert.Single(ResultsSentBack(model, 1)).Result), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Tools_exceeding_their_timeout_become_error_results_even_when_they_ignore_cancellation()
    {
        var polite = AIFunctionFactory.Create(async (CancellationToken token) => { await Task.Delay(Timeout.Infinite, token); return "never"; }, "polite", "Waits politely.");
        var stubborn = AIFunctionFactory.Create(async () => { await Task.Delay(TimeSpan.FromSeconds(20)); return "never"; }, "stubborn", "Ignores its token.");
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(Call("c1", "polite"), Call("c2", "stubborn")),
            (_, _) => ScriptedChatClient.Reply("Both tools were too slow."));

        var watch = Stopwatch.StartNew();
        var response = await Loop(model, new ToolLoopOptions { ToolTimeoutSeconds = 0.2 }).GetResponseAsync(Question, new ChatOptions { Tools = [polite, stubborn] });

        Assert.True(watch.Elapsed < TimeSpan.FromSeconds(3), $"the loop waited {watch.Elapsed}");
        Assert.Equal("Both tools were too slow.", response.Messages[^1].Text);
        Assert.All(ResultsSentBack(model, 1), result =>
        {
            Assert.StartsWith("Error:", LlmContent.SerializeResult(result.Result), StringComparison.Ordinal);
            Assert.Contains("did not finish within 0.2 s", Assert.IsType<TimeoutException>(result.Exception).Message, StringComparison.Ordinal);
        });
    }

    [Fact]
    public async Task Invalid_arguments_become_error_results_and_the_tool_never_runs()
    {
        var runs = 0;
        var add = AIFunctionFactory.Create((int a, int b) => { Interlocked.Increment(ref runs); return a + b; }, "add", "Adds two numbers.");
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(
                FunctionCallContent.CreateFromParsedArguments("{\"a\": 1, \"b\": ", "c1", "add",   // truncated JSON from the model
                    static json => JsonSerializer.Deserialize<Dictionary<string, object?>>(json)),
                Call("c2", "add", new() { ["a"] = 1 }),                      // missing required "b"
                Call("c3", "add", new() { ["a"] = "one", ["b"] = 2 })),     // wrong type
            (_, _) => ScriptedChatClient.Reply("Let me fix that."));

        var response = await Loop(model).GetResponseAsync(Question, new ChatOptions { Tools = [add] });

        Assert.Equal(0, runs);
        Assert.Equal("Let me fix that.", response.Messages[^1].Text);
        var sent = ResultsSentBack(model, 1);
        Assert.All(sent, r => Assert.StartsWith("Error:", LlmContent.SerializeResult(r.Result), StringComparison.Ordinal));
        var results = sent.Select(r => r.Exception?.Message ?? "").ToList();
        Assert.Contains("not valid JSON", results[0], StringComparison.Ordinal);
        Assert.Contains("missing required property 'b'", results[1], StringComparison.Ordinal);
        Assert.Contains("$.a: expected integer", results[2], StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_tool_name_gets_an_error_listing_the_available_tools()
    {
        var clock = AIFunctionFactory.Create(() => "12:00", "current_time", "Current time.");
        var model = new ScriptedChatClient((_, _) => ScriptedChatClient.ToolCalls(Call("c1", "get_time")), (_, _) => ScriptedChatClient.Reply("ok"));

        await Loop(model).GetResponseAsync(Question, new ChatOptions { Tools = [clock] });

        var text = LlmContent.SerializeResult(Assert.Single(ResultsSentBack(model, 1)).Result);
        Assert.StartsWith("Error:", text, StringComparison.Ordinal);
        Assert.Contains("get_time", text, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MaxRounds_bounds_the_model_calls_and_calls_asked_for_after_it_are_returned_unrun()
    {
        var runs = 0;
        var again = AIFunctionFactory.Create(() => Interlocked.Increment(ref runs), "again", "Always useful.");
        var model = new ScriptedChatClient((_, _) => ScriptedChatClient.ToolCalls(Call(Guid.NewGuid().ToString("N"), "again")));
        var loop = Loop(model, new ToolLoopOptions { MaxRounds = 2 });

        var response = await loop.GetResponseAsync(Question, new ChatOptions { Tools = [again] });

        Assert.Equal(2, runs);
        Assert.Equal(3, model.Calls.Count);
        Assert.Equal([ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant, ChatRole.Tool, ChatRole.Assistant], response.Messages.Select(m => m.Role));
        Assert.IsType<FunctionCallContent>(Assert.Single(response.Messages[^1].Contents));
    }

    [Fact]
    public async Task MaxRounds_applies_to_streaming()
    {
        var again = AIFunctionFactory.Create(() => "more", "again", "Always useful.");
        var model = new ScriptedChatClient((_, _) => ScriptedChatClient.ToolCalls(Call(Guid.NewGuid().ToString("N"), "again")));
        var loop = Loop(model, new ToolLoopOptions { MaxRounds = 1 });

        var updates = await loop.GetStreamingResponseAsync(Question, new ChatOptions { Tools = [again] }).CollectAsync();

        Assert.Equal(2, model.Calls.Count);
        Assert.Equal(2, updates.SelectMany(u => u.Contents).OfType<FunctionCallContent>().Count());
        Assert.Single(updates.SelectMany(u => u.Contents).OfType<FunctionResultContent>());
    }

    [Fact]
    public async Task Streaming_yields_tool_calls_tool_results_per_round_usage_and_the_final_answer()
    {
        var weather = AIFunctionFactory.Create((string city) => $"{city}: sunny", "get_weather", "Current weather in a city.");
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(Call("c1", "get_weather", new() { ["city"] = "Paris" })),
            (_, _) => ScriptedChatClient.Reply("It is sunny in Paris."));

        var updates = await Loop(model).GetStreamingResponseAsync(Question, new ChatOptions { Tools = [weather] }).CollectAsync();

        var kinds = updates.SelectMany(u => u.Contents.Select(c => (u.Role, c))).Where(x => x.c is not UsageContent).ToList();
        Assert.IsType<FunctionCallContent>(kinds[0].c);
        Assert.Equal(ChatRole.Tool, kinds[1].Role);
        var result = Assert.IsType<FunctionResultContent>(kinds[1].c);
        Assert.Equal("Paris: sunny", LlmContent.SerializeResult(result.Result));
        Assert.Equal("It is sunny in Paris.", string.Concat(updates.Select(u => u.Text)));
        Assert.Equal(2, updates.SelectMany(u => u.Contents).OfType<UsageContent>().Count());
    }

    [Fact]
    public async Task Observers_see_every_call_with_user_sizes_and_outcome_and_cannot_break_the_chat()
    {
        var recorder = new RecordingObserver();
        var lookup = AIFunctionFactory.Create((string query) => $"found {query}", "lookup", "Looks something up.");
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(Call("c1", "lookup", new() { ["query"] = "tea" }), Call("c2", "get_time")),
            (_, _) => ScriptedChatClient.Reply("done"));
        var options = new ChatOptions { Tools = [lookup], AdditionalProperties = new() { [LlmRequestProperties.UserId] = "user-7" } };

        var response = await Loop(model, null, new ThrowingObserver(), recorder).GetResponseAsync(Question, options);

        Assert.Equal("done", response.Messages[^1].Text);
        var records = recorder.Records.OrderBy(r => r.CallId).ToList();
        // The unknown tool never runs, so only the library's error result answers it.
        Assert.Single(records);
        Assert.Equal(("user-7", "lookup", ToolCallOutcome.Succeeded, 1), (records[0].UserId, records[0].ToolName, records[0].Outcome, records[0].Round));
        Assert.Equal("""{"query":"tea"}""".Length, records[0].ArgumentsSize);
        Assert.Equal("""{"query":"tea"}""", records[0].Arguments);
        Assert.Equal("found tea".Length, records[0].ResultSize);
        Assert.Contains("get_time", LlmContent.SerializeResult(ResultsSentBack(model, 1).Single(r => r.CallId == "c2").Result), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Calls_to_declaration_only_tools_are_returned_to_the_caller()
    {
        var declaration = AIFunctionFactory.CreateDeclaration("client_side", "Runs in the browser.", System.Text.Json.JsonElement.Parse("""{"type":"object","properties":{}}"""));
        var model = new ScriptedChatClient((_, _) => ScriptedChatClient.ToolCalls(Call("c1", "client_side")));

        var response = await Loop(model).GetResponseAsync(Question, new ChatOptions { Tools = [declaration] });

        Assert.Single(model.Calls);
        Assert.Equal("client_side", Assert.Single(response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>()).Name);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }

    private sealed class RecordingObserver : IToolCallObserver
    {
        private readonly List<ToolCallRecord> _records = [];

        public IReadOnlyList<ToolCallRecord> Records
        {
            get
            {
                lock (_records)
                {
                    return [.. _records];
                }
            }
        }

        public ValueTask OnToolCallCompletedAsync(ToolCallRecord record, CancellationToken cancellationToken)
        {
            lock (_records)
            {
                _records.Add(record);
            }

            return ValueTask.CompletedTask;
        }
    }

    private sealed class ThrowingObserver : IToolCallObserver
    {
        public ValueTask OnToolCallCompletedAsync(ToolCallRecord record, CancellationToken cancellationToken) =>
            throw new InvalidOperationException("audit store is down");
    }
}
