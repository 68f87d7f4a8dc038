using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace AspireAi.Core.Llm;

/// <summary>
/// ActivitySource and Meter of the model pipeline, both named <see cref="Name"/> (covered by ServiceDefaults'
/// <c>AspireAi.*</c> subscription). Attribute and instrument names follow the OpenTelemetry GenAI semantic
/// conventions; prompts and answers are never recorded, only models, token counts, durations and errors.
/// </summary>
public static class LlmTelemetry
{
    /// <summary>Name of the ActivitySource and the Meter.</summary>
    public const string Name = "AspireAi.Llm";

#pragma warning disable CA1034 // Nested types: the attribute names read as GenAi.X at call sites and in tests.
    /// <summary>Attribute names of the GenAI semantic conventions used here.</summary>
    public static class Attributes
    {
        /// <summary>chat, embeddings or execute_tool.</summary>
        public const string OperationName = "gen_ai.operation.name";
        /// <summary>Provider (current convention).</summary>
        public const string ProviderName = "gen_ai.provider.name";
        /// <summary>Provider (older convention, still read by many back ends).</summary>
        public const string System = "gen_ai.system";
        /// <summary>Model asked for.</summary>
        public const string RequestModel = "gen_ai.request.model";
        /// <summary>Model that answered.</summary>
        public const string ResponseModel = "gen_ai.response.model";
        /// <summary>Response id from the server.</summary>
        public const string ResponseId = "gen_ai.response.id";
        /// <summary>Finish reasons (string array).</summary>
        public const string ResponseFinishReasons = "gen_ai.response.finish_reasons";
        /// <summary>Prompt tokens.</summary>
        public const string InputTokens = "gen_ai.usage.input_tokens";
        /// <summary>Generated tokens.</summary>
        public const string OutputTokens = "gen_ai.usage.output_tokens";
        /// <summary>Requested cap on generated tokens.</summary>
        public const string RequestMaxTokens = "gen_ai.request.max_tokens";
        /// <summary>Requested temperature.</summary>
        public const string RequestTemperature = "gen_ai.request.temperature";
        /// <summary>Requested top_p.</summary>
        public const string RequestTopP = "gen_ai.request.top_p";
        /// <summary>Requested embedding width.</summary>
        public const string RequestEmbeddingDimensions = "gen_ai.embeddings.dimension.count";
        /// <summary>input or output, on the token usage histogram.</summary>
        public const string TokenType = "gen_ai.token.type";
        /// <summary>Tool name on execute_tool spans.</summary>
        public const string ToolName = "gen_ai.tool.name";
        /// <summary>Tool call id on execute_tool spans.</summary>
        public const string ToolCallId = "gen_ai.tool.call.id";
        /// <summary>Exception type or status class of a failed operation.</summary>
        public const string ErrorType = "error.type";
        /// <summary>Host of the model server.</summary>
        public const string ServerAddress = "server.address";
        /// <summary>Port of the model server.</summary>
        public const string ServerPort = "server.port";
    }
#pragma warning restore CA1034

    /// <summary>Histogram of tokens per call, tagged gen_ai.token.type = input|output.</summary>
    public const string TokenUsageMetric = "gen_ai.client.token.usage";
    /// <summary>Histogram of call durations in seconds.</summary>
    public const string OperationDurationMetric = "gen_ai.client.operation.duration";
    /// <summary>Histogram of the time to the first streamed chunk, in seconds (streaming calls only).</summary>
    public const string TimeToFirstChunkMetric = "gen_ai.client.operation.time_to_first_chunk";
    /// <summary>Counter of calls answered by the fallback provider.</summary>
    public const string FallbacksMetric = "aspireai.llm.fallbacks";
    /// <summary>Counter of tool calls by tool and outcome.</summary>
    public const string ToolCallsMetric = "aspireai.llm.tool_calls";

    internal static readonly ActivitySource ActivitySource = new(Name);

    private static readonly Meter Meter = new(Name);

    // Bucket boundaries recommended by the semantic conventions.
    internal static readonly Histogram<long> TokenUsage = Meter.CreateHistogram(
        TokenUsageMetric, unit: "{token}", description: "Input and output tokens per model call.",
        advice: new InstrumentAdvice<long> { HistogramBucketBoundaries = [1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304] });

    internal static readonly Histogram<double> OperationDuration = Meter.CreateHistogram(
        OperationDurationMetric, unit: "s", description: "Duration of model calls, to the last streamed chunk.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92] });

    internal static readonly Histogram<double> TimeToFirstChunk = Meter.CreateHistogram(
        TimeToFirstChunkMetric, unit: "s", description: "Time from the request to the first streamed chunk.",
        advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48] });

    internal static readonly Counter<long> Fallbacks = Meter.CreateCounter<long>(
        FallbacksMetric, unit: "{call}", description: "Model calls answered by the fallback provider after the primary failed.");

    internal static readonly Counter<long> ToolCalls = Meter.CreateCounter<long>(
        ToolCallsMetric, unit: "{call}", description: "Tool calls run by the tool loop, by tool and outcome.");
}
