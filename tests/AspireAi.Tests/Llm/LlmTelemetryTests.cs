using System.Diagnostics;
using System.Diagnostics.Metrics;
using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;

namespace AspireAi.Tests.Llm;

// The GenAI spans and metrics of Microsoft.Extensions.AI's OpenTelemetry steps, under the project's source name.
public sealed class LlmTelemetryTests
{
    [Fact]
    public async Task A_streamed_call_produces_a_gen_ai_span_and_token_metrics()
    {
        var model = "telemetry-" + Guid.NewGuid().ToString("N")[..8];
        await using var server = await FakeOpenAiServer.StartAsync(model);
        server.EnqueueChat(FakeOpenAiReply.Text("Counted tokens.", chunks: 3, promptTokens: 17, completionTokens: 11));
        await using var services = LlmTestHost.Create(LlmTestHost.Compatible(server, model));

        // Listeners are process-wide and other tests run in parallel: keep only this test's trace and model.
        using var root = new Activity("test-root").Start();
        var spans = new List<Activity>();
        using var listener = CollectSpans(root, spans);

        var measurements = new List<(string Instrument, double Value, Dictionary<string, object?> Tags)>();
        using var meters = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == LlmTelemetry.Name)
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            var dictionary = new Dictionary<string, object?>();
            foreach (var tag in tags)
            {
                dictionary[tag.Key] = tag.Value;
            }

            if (Equals(dictionary.GetValueOrDefault(LlmTelemetry.Attributes.RequestModel), model))
            {
                lock (measurements)
                {
                    measurements.Add((instrument.Name, value, dictionary));
                }
            }
        }

        meters.SetMeasurementEventCallback<long>((i, v, t, _) => Record(i, v, t));
        meters.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        meters.Start();

        var text = string.Concat((await services.Chat().GetStreamingResponseAsync([new(ChatRole.User, "Count my tokens")]).CollectAsync()).Select(u => u.Text));
        Assert.Equal("Counted tokens.", text);

        var span = Assert.Single(spans, s => s.OperationName == $"chat {model}");
        Assert.Equal(ActivityKind.Client, span.Kind);
        Assert.Equal("chat", span.GetTagItem(LlmTelemetry.Attributes.OperationName));
        Assert.Equal("openai", span.GetTagItem(LlmTelemetry.Attributes.ProviderName));
        Assert.Equal(model, span.GetTagItem(LlmTelemetry.Attributes.RequestModel));
        Assert.Equal(model, span.GetTagItem(LlmTelemetry.Attributes.ResponseModel));
        Assert.Equal(17L, Convert.ToInt64(span.GetTagItem(LlmTelemetry.Attributes.InputTokens), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(11L, Convert.ToInt64(span.GetTagItem(LlmTelemetry.Attributes.OutputTokens), System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal("[\"stop\"]", span.GetTagItem(LlmTelemetry.Attributes.ResponseFinishReasons)?.ToString()); // the library tags them as a JSON array
        Assert.Equal("127.0.0.1", span.GetTagItem(LlmTelemetry.Attributes.ServerAddress));
        Assert.Null(span.GetTagItem(LlmTelemetry.Attributes.ErrorType));

        meters.RecordObservableInstruments();
        lock (measurements)
        {
            Assert.Single(measurements, m => m.Instrument == "gen_ai.client.operation.duration");
        }
    }

    [Fact]
    public async Task A_failed_call_records_error_type_on_the_span()
    {
        using var root = new Activity("test-root").Start();
        var spans = new List<Activity>();
        using var listener = CollectSpans(root, spans);
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>());
        using var client = LlmExtensions.BuildChatClient(services, new ScriptedChatClient((_, _) => throw new LlmProviderException("boom", 503, null, null)));

        await Assert.ThrowsAsync<LlmProviderException>(() => client.GetStreamingResponseAsync([new(ChatRole.User, "hi")]).CollectAsync());

        var span = Assert.Single(spans, s => s.OperationName.StartsWith("chat", StringComparison.Ordinal));
        Assert.Equal(typeof(LlmProviderException).FullName, span.GetTagItem(LlmTelemetry.Attributes.ErrorType));
        Assert.Equal(ActivityStatusCode.Error, span.Status);
    }

    [Fact]
    public async Task Each_model_round_and_each_tool_call_gets_its_own_span_without_content_by_default()
    {
        using var root = new Activity("test-root").Start();
        var spans = new List<Activity>();
        using var listener = CollectSpans(root, spans);
        await using var services = LlmTestHost.Create(new Dictionary<string, string?>());
        var model = new ScriptedChatClient(
            (_, _) => ScriptedChatClient.ToolCalls(new FunctionCallContent("c1", "get_weather", new Dictionary<string, object?> { ["city"] = "Paris" })),
            (_, _) => ScriptedChatClient.Reply("Sunny in Paris."));
        using var client = LlmExtensions.BuildChatClient(services, model);
        var weather = AIFunctionFactory.Create((string city) => $"{city}: sunny", "get_weather", "Current weather in a city.");

        await client.GetResponseAsync([new(ChatRole.User, "Weather in Paris?")], new ChatOptions { Tools = [weather] });

        Assert.Equal(2, spans.Count(s => s.GetTagItem(LlmTelemetry.Attributes.OperationName) as string == "chat"));
        var tool = Assert.Single(spans, s => s.GetTagItem(LlmTelemetry.Attributes.OperationName) as string == "execute_tool");
        Assert.Equal("get_weather", tool.GetTagItem(LlmTelemetry.Attributes.ToolName));
        Assert.Equal("c1", tool.GetTagItem(LlmTelemetry.Attributes.ToolCallId));
        // Prompts, arguments and results stay out of telemetry unless Llm:CaptureContent is set.
        Assert.All(spans.SelectMany(s => s.Tags), tag => Assert.DoesNotContain("Paris", tag.Value ?? "", StringComparison.Ordinal));
    }

    // Listeners are process-wide and other tests run in parallel: keeps only the spans of this test's trace.
    private static ActivityListener CollectSpans(Activity root, List<Activity> spans)
    {
        var listener = new ActivityListener
        {
            ShouldListenTo = source => source.Name == LlmTelemetry.Name,
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity =>
            {
                if (activity.TraceId == root.TraceId)
                {
                    lock (spans)
                    {
                        spans.Add(activity);
                    }
                }
            },
        };
        ActivitySource.AddActivityListener(listener);
        return listener;
    }
}
