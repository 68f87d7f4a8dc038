using System.Diagnostics.Metrics;

namespace AspireAi.Core.Llm;

/// <summary>
/// Telemetry name of the model pipeline: Microsoft.Extensions.AI's OpenTelemetry steps emit their GenAI spans
/// (<c>chat</c>, <c>embeddings</c>, <c>execute_tool</c>) and metrics (<c>gen_ai.client.token.usage</c>,
/// <c>gen_ai.client.operation.duration</c>) under <see cref="Name"/>, covered by ServiceDefaults' <c>AspireAi.*</c>
/// subscription; the project's own counters (fallbacks, tool calls) use a Meter of the same name.
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

    /// <summary>Counter of calls answered by the fallback provider.</summary>
    public const string FallbacksMetric = "aspireai.llm.fallbacks";
    /// <summary>Counter of tool calls by tool and outcome.</summary>
    public const string ToolCallsMetric = "aspireai.llm.tool_calls";

    private static readonly Meter Meter = new(Name);

    internal static readonly Counter<long> Fallbacks = Meter.CreateCounter<long>(
        FallbacksMetric, unit: "{call}", description: "Model calls answered by the fallback provider after the primary failed.");

    internal static readonly Counter<long> ToolCalls = Meter.CreateCounter<long>(
        ToolCallsMetric, unit: "{call}", description: "Tool calls run by the tool loop, by tool and outcome.");
}
