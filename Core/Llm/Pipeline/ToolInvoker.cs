using System.Diagnostics;
using System.Globalization;
using System.Text.Json;
using AspireAi.Core.Common;
using AspireAi.Core.Llm.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// What the project adds to <see cref="FunctionInvokingChatClient"/> as its <see cref="FunctionInvokingChatClient.FunctionInvoker"/>:
/// each call is bounded by <see cref="ToolLoopOptions.ToolTimeoutSeconds"/>, arguments that are not valid JSON or do
/// not match the tool's schema are refused before the tool runs, and every call is counted
/// (<c>aspireai.llm.tool_calls</c>) and reported to the registered <see cref="IToolCallObserver"/>s. A failure is
/// rethrown so the library turns it into an error result for the model (with the message only when
/// <see cref="ToolLoopOptions.IncludeErrorDetails"/> is set) and marks the <c>execute_tool</c> span as failed.
/// </summary>
internal sealed partial class ToolInvoker(ToolLoopOptions options, IEnumerable<IToolCallObserver> observers, ContentScreen screen, ILogger<ToolInvoker> logger)
{
    private readonly IToolCallObserver[] _observers = [.. observers];

    public async ValueTask<object?> InvokeAsync(FunctionInvocationContext context, CancellationToken cancellationToken)
    {
        var call = context.CallContent;
        var argumentsJson = LlmContent.SerializeArguments(call.Arguments);
        var started = Stopwatch.GetTimestamp();
        var outcome = ToolCallOutcome.InvalidArguments;
        object? result;
        try
        {
            if (call.Exception is not null)
            {
                throw new ArgumentException($"The arguments for '{call.Name}' are not valid JSON: {call.Exception.Message}", call.Exception);
            }

            if (ArgumentProblems(context.Function, argumentsJson) is { Count: > 0 } problems)
            {
                throw new ArgumentException($"Invalid arguments for '{call.Name}': {string.Join(" ", problems)}");
            }

            outcome = ToolCallOutcome.Failed;
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(options.ToolTimeout);
            try
            {
                // WaitAsync bounds tools that ignore their token; the token lets well-behaved ones stop early.
                result = await context.Function.InvokeAsync(context.Arguments, timeout.Token).AsTask()
                    .WaitAsync(options.ToolTimeout, cancellationToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (!cancellationToken.IsCancellationRequested && (ex is TimeoutException || timeout.IsCancellationRequested))
            {
                outcome = ToolCallOutcome.TimedOut;
                throw new TimeoutException(
                    $"The tool '{call.Name}' did not finish within {options.ToolTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s.", ex);
            }
        }
        catch (Exception ex) when (!cancellationToken.IsCancellationRequested)
        {
            var elapsed = Stopwatch.GetElapsedTime(started);
            LogToolProblem(call.Name, call.CallId, outcome, elapsed.TotalMilliseconds, ex);
            await ReportAsync(context, argumentsJson, ex.Message.Length, outcome, ex.Message, elapsed).ConfigureAwait(false);
            throw;
        }

        var serialized = LlmContent.SerializeResult(result);
        await ReportAsync(context, argumentsJson, serialized.Length, ToolCallOutcome.Succeeded, error: null,
            Stopwatch.GetElapsedTime(started)).ConfigureAwait(false);
        // A tool's output is data from outside (documents, the web, other systems): instruction-like parts are quoted or left out.
        return screen.ForToolResult(serialized, "tool:" + call.Name) switch
        {
            null => $"The result of '{call.Name}' was withheld: it contained instruction-like text.",
            var screened when ReferenceEquals(screened, serialized) => result,
            // Same shape as the tool's own result (a citing tool reads its passages back from it), with the text screened.
            var screened => ParseOrText(screened),
        };
    }

    private static object ParseOrText(string text)
    {
        try
        {
            using var document = JsonDocument.Parse(text);
            return document.RootElement.Clone();
        }
        catch (JsonException)
        {
            return text;
        }
    }

    private static IReadOnlyList<string> ArgumentProblems(AIFunction tool, string argumentsJson)
    {
        if (tool.JsonSchema.ValueKind != JsonValueKind.Object)
        {
            return [];
        }

        using var arguments = JsonDocument.Parse(argumentsJson);
        return JsonSchemaValidator.Validate(tool.JsonSchema, arguments.RootElement);
    }

    private async Task ReportAsync(
        FunctionInvocationContext context, string argumentsJson, int resultSize, ToolCallOutcome outcome, string? error, TimeSpan duration)
    {
        var call = context.CallContent;
        LlmTelemetry.ToolCalls.Add(1, new TagList
        {
            { LlmTelemetry.Attributes.ToolName, call.Name },
            { "aspireai.llm.tool_outcome", outcome.ToString() },
        });

        var properties = context.Options?.AdditionalProperties;
        var record = new ToolCallRecord(
            properties?.TryGetValue(LlmRequestProperties.UserId, out var user) == true ? user?.ToString() : null,
            properties?.TryGetValue(LlmRequestProperties.ConversationId, out var conversation) == true ? conversation?.ToString() : null,
            call.Name, call.CallId, context.Iteration + 1, argumentsJson.Length, argumentsJson, resultSize, duration, outcome, error);

        foreach (var observer in _observers)
        {
            try
            {
                // The call already happened: its audit is written even if the chat is being cancelled.
                await observer.OnToolCallCompletedAsync(record, CancellationToken.None).ConfigureAwait(false);
            }
#pragma warning disable CA1031 // An audit hook must never break the chat; its failure is logged.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                LogObserverFailed(observer.GetType().Name, record.ToolName, exception);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tool {ToolName} (call {CallId}) ended with {Outcome} after {ElapsedMs:0} ms")]
    private partial void LogToolProblem(string toolName, string callId, ToolCallOutcome outcome, double elapsedMs, Exception exception);

    [LoggerMessage(Level = LogLevel.Error, Message = "Tool call observer {Observer} failed for tool {ToolName}")]
    private partial void LogObserverFailed(string observer, string toolName, Exception exception);
}
