using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Text.Json;
using AspireAi.Core.Llm.Json;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// Runs the tools a model asks for and calls the model again with their results, the way Microsoft.Extensions.AI's
/// FunctionInvokingChatClient does (that package is not available here):
/// <list type="bullet">
/// <item>Calls to <see cref="AIFunction"/>s in <c>ChatOptions.Tools</c> run concurrently when a round has several and
/// <see cref="ToolLoopOptions.AllowParallel"/> is set, each bounded by <see cref="ToolLoopOptions.ToolTimeoutSeconds"/>.</item>
/// <item>A tool that throws or times out, arguments that are not valid JSON or do not match the tool's schema, and
/// an unknown tool name all become a <see cref="FunctionResultContent"/> whose result starts with <c>"Error:"</c>; the
/// model sees it and can recover. Nothing is thrown (except the caller's own cancellation).</item>
/// <item>After <see cref="ToolLoopOptions.MaxRounds"/> rounds the model is asked once more with tools disabled; if it
/// still asks for tools, the calls are dropped and a note says the limit was reached.</item>
/// <item>A call to a tool offered only as a declaration (not invocable here) ends the loop and is returned to the caller.</item>
/// </list>
/// Streaming passes every model update through (text, <see cref="FunctionCallContent"/>s, and one
/// <see cref="UsageContent"/> per round: add them up for the request's total) and, after each round, one update with
/// role <see cref="ChatRole.Tool"/> per tool result, so an API can emit tool_call and tool_result events.
/// Non-streaming returns every message of the exchange (assistant calls, tool results, final answer) with the usage
/// summed over rounds. Each tool call gets an <c>execute_tool {name}</c> span and is reported to the registered
/// <see cref="IToolCallObserver"/>s.
/// </summary>
public sealed partial class ToolLoopChatClient : DelegatingChatClient
{
    private readonly ToolLoopOptions _options;
    private readonly ILogger<ToolLoopChatClient> _logger;
    private readonly IToolCallObserver[] _observers;
    private readonly IServiceProvider? _services;

    /// <summary>Creates the loop around <paramref name="innerClient"/>.</summary>
    /// <param name="innerClient">The model.</param>
    /// <param name="options">Rounds, timeout, parallelism.</param>
    /// <param name="logger">Logger.</param>
    /// <param name="observers">Audit hooks, called after each tool call.</param>
    /// <param name="services">Handed to tools as <see cref="AIFunctionArguments.Services"/>.</param>
    public ToolLoopChatClient(
        IChatClient innerClient, ToolLoopOptions options, ILogger<ToolLoopChatClient> logger,
        IEnumerable<IToolCallObserver>? observers = null, IServiceProvider? services = null)
        : base(innerClient)
    {
        _options = options ?? throw new ArgumentNullException(nameof(options));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        _observers = [.. observers ?? []];
        _services = services;
    }

    /// <summary>Text added when the model still asks for tools after the last allowed round.</summary>
    public string LimitReachedMessage =>
        $"(I stopped after {_options.MaxRounds.ToString(CultureInfo.InvariantCulture)} rounds of tool calls without reaching a final answer.)";

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var tools = InvocableTools(options);
        if (tools is null)
        {
            return await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
        }

        var history = new List<ChatMessage>(messages);
        var exchange = new List<ChatMessage>();
        UsageDetails? usage = null;
        for (var round = 1; ; round++)
        {
            var lastRound = round > _options.MaxRounds;
            var response = await base.GetResponseAsync(history, OptionsForRound(options, round, lastRound), cancellationToken).ConfigureAwait(false);
            usage = Sum(usage, response.Usage);
            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();

            if (calls.Count == 0 || (!lastRound && ForCaller(calls, options!)))
            {
                exchange.AddRange(response.Messages);
                return Final(response, exchange, usage);
            }

            if (lastRound)
            {
                LogLimitReached(_options.MaxRounds, calls.Count);
                exchange.AddRange(WithoutCalls(response.Messages));
                exchange.Add(new ChatMessage(ChatRole.Assistant, LimitReachedMessage));
                return Final(response, exchange, usage);
            }

            history.AddRange(response.Messages);
            exchange.AddRange(response.Messages);
            var results = await InvokeRoundAsync(calls, tools, options!, round, cancellationToken).ConfigureAwait(false);
            var toolMessage = new ChatMessage(ChatRole.Tool, [.. results]) { MessageId = NewId("tool") };
            history.Add(toolMessage);
            exchange.Add(toolMessage);
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var tools = InvocableTools(options);
        if (tools is null)
        {
            await foreach (var update in base.GetStreamingResponseAsync(messages, options, cancellationToken).ConfigureAwait(false))
            {
                yield return update;
            }

            yield break;
        }

        var history = new List<ChatMessage>(messages);
        for (var round = 1; ; round++)
        {
            var lastRound = round > _options.MaxRounds;
            var updates = new List<ChatResponseUpdate>();
            var droppedCalls = 0;
            await foreach (var update in base.GetStreamingResponseAsync(history, OptionsForRound(options, round, lastRound), cancellationToken).ConfigureAwait(false))
            {
                updates.Add(update);
                if (lastRound && update.Contents.Any(c => c is FunctionCallContent))
                {
                    // Calls that will never run must not reach the caller as tool_call events.
                    var kept = update.Clone();
                    kept.Contents = [.. update.Contents.Where(c => c is not FunctionCallContent)];
                    droppedCalls += update.Contents.Count - kept.Contents.Count;
                    if (kept.Contents.Count > 0 || kept.FinishReason is not null)
                    {
                        yield return kept;
                    }

                    continue;
                }

                yield return update;
            }

            var response = updates.ToChatResponse();
            if (droppedCalls > 0)
            {
                LogLimitReached(_options.MaxRounds, droppedCalls);
                yield return new ChatResponseUpdate(ChatRole.Assistant, " " + LimitReachedMessage)
                {
                    ResponseId = response.ResponseId,
                    MessageId = response.Messages.LastOrDefault()?.MessageId,
                    ModelId = response.ModelId,
                };
                yield break;
            }

            var calls = response.Messages.SelectMany(m => m.Contents).OfType<FunctionCallContent>().ToList();
            if (calls.Count == 0 || ForCaller(calls, options!))
            {
                yield break;
            }

            history.AddRange(response.Messages);
            var results = await InvokeRoundAsync(calls, tools, options!, round, cancellationToken).ConfigureAwait(false);
            var toolMessageId = NewId("tool");
            history.Add(new ChatMessage(ChatRole.Tool, [.. results]) { MessageId = toolMessageId });
            foreach (var result in results)
            {
                yield return new ChatResponseUpdate(ChatRole.Tool, [result])
                {
                    MessageId = toolMessageId,
                    ResponseId = response.ResponseId,
                    CreatedAt = DateTimeOffset.UtcNow,
                };
            }
        }
    }

    private static Dictionary<string, AIFunction>? InvocableTools(ChatOptions? options)
    {
        if (options?.Tools is not { Count: > 0 } tools)
        {
            return null;
        }

        var functions = new Dictionary<string, AIFunction>(StringComparer.Ordinal);
        foreach (var function in tools.OfType<AIFunction>())
        {
            functions.TryAdd(function.Name, function);
        }

        return functions.Count > 0 ? functions : null;
    }

    // Calls naming a tool that was offered only as a declaration belong to the caller (e.g. a client-side tool).
    private static bool ForCaller(List<FunctionCallContent> calls, ChatOptions options) =>
        calls.Any(call => options.Tools!.Any(tool => tool.Name == call.Name && tool is not AIFunction));

    // A required tool choice applies to the first round only, or the model could never give its answer; the last
    // round forbids tools so the model has to answer with what it has.
    private static ChatOptions? OptionsForRound(ChatOptions? options, int round, bool lastRound)
    {
        if (options is null || (round == 1 && !lastRound))
        {
            return options;
        }

        if (!lastRound && options.ToolMode is not RequiredChatToolMode)
        {
            return options;
        }

        var clone = options.Clone();
        clone.ToolMode = lastRound ? ChatToolMode.None : ChatToolMode.Auto;
        return clone;
    }

    private async Task<FunctionResultContent[]> InvokeRoundAsync(
        List<FunctionCallContent> calls, Dictionary<string, AIFunction> tools, ChatOptions options, int round, CancellationToken cancellationToken)
    {
        var context = new CallContext(
            options.AdditionalProperties?.TryGetValue(LlmRequestProperties.UserId, out var user) == true ? user?.ToString() : null,
            options.AdditionalProperties?.TryGetValue(LlmRequestProperties.ConversationId, out var conversation) == true ? conversation?.ToString() : null,
            round,
            [.. tools.Keys]);

        if (_options.AllowParallel && calls.Count > 1 && options.AllowMultipleToolCalls != false)
        {
            return await Task.WhenAll(calls.Select(call => InvokeAsync(call, tools, context, cancellationToken))).ConfigureAwait(false);
        }

        var results = new FunctionResultContent[calls.Count];
        for (var i = 0; i < calls.Count; i++)
        {
            results[i] = await InvokeAsync(calls[i], tools, context, cancellationToken).ConfigureAwait(false);
        }

        return results;
    }

    private async Task<FunctionResultContent> InvokeAsync(
        FunctionCallContent call, Dictionary<string, AIFunction> tools, CallContext context, CancellationToken cancellationToken)
    {
        // Yield first so that parallel calls start together even when a tool runs synchronously for a while.
        await Task.Yield();

        using var activity = LlmTelemetry.ActivitySource.StartActivity($"execute_tool {call.Name}", ActivityKind.Internal);
        activity?.SetTag(LlmTelemetry.Attributes.OperationName, "execute_tool");
        activity?.SetTag(LlmTelemetry.Attributes.ToolName, call.Name);
        activity?.SetTag(LlmTelemetry.Attributes.ToolCallId, call.CallId);

        var started = Stopwatch.GetTimestamp();
        var argumentsJson = LlmContent.SerializeArguments(call.Arguments);
        object? result = null;
        string? error = null;
        Exception? exception = null;
        ToolCallOutcome outcome;

        if (!tools.TryGetValue(call.Name, out var tool))
        {
            outcome = ToolCallOutcome.UnknownTool;
            error = $"Error: there is no tool named '{call.Name}'. Available tools: {string.Join(", ", context.ToolNames)}.";
        }
        else if (call.Exception is not null)
        {
            outcome = ToolCallOutcome.InvalidArguments;
            exception = call.Exception;
            error = $"Error: the arguments for '{call.Name}' are not valid JSON: {call.Exception.Message}";
        }
        else if (ArgumentProblems(tool, argumentsJson) is { Count: > 0 } problems)
        {
            outcome = ToolCallOutcome.InvalidArguments;
            error = $"Error: invalid arguments for '{call.Name}': {string.Join(" ", problems)}";
        }
        else
        {
            try
            {
                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                timeout.CancelAfter(_options.ToolTimeout);
                var arguments = new AIFunctionArguments(call.Arguments ?? new Dictionary<string, object?>()) { Services = _services };

                // WaitAsync bounds tools that ignore their token; the token lets well-behaved ones stop early.
                result = await tool.InvokeAsync(arguments, timeout.Token).AsTask()
                    .WaitAsync(_options.ToolTimeout, cancellationToken).ConfigureAwait(false);
                outcome = ToolCallOutcome.Succeeded;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
            catch (Exception ex) when (ex is TimeoutException or OperationCanceledException)
            {
                outcome = ToolCallOutcome.TimedOut;
                exception = ex;
                error = $"Error: the tool '{call.Name}' did not finish within {_options.ToolTimeoutSeconds.ToString(CultureInfo.InvariantCulture)} s.";
            }
#pragma warning disable CA1031 // Any tool failure becomes an error result for the model: that is the contract of the loop.
            catch (Exception ex)
#pragma warning restore CA1031
            {
                outcome = ToolCallOutcome.Failed;
                exception = ex;
                error = _options.IncludeErrorDetails
                    ? $"Error: the tool '{call.Name}' failed: {ex.Message}"
                    : $"Error: the tool '{call.Name}' failed ({ex.GetType().Name}).";
            }
        }

        var duration = Stopwatch.GetElapsedTime(started);
        var resultSize = error?.Length ?? LlmContent.SerializeResult(result).Length;
        LlmTelemetry.ToolCalls.Add(1, new TagList
        {
            { LlmTelemetry.Attributes.ToolName, call.Name },
            { "aspireai.llm.tool_outcome", outcome.ToString() },
        });
        if (outcome != ToolCallOutcome.Succeeded)
        {
            activity?.SetTag(LlmTelemetry.Attributes.ErrorType, outcome.ToString());
            activity?.SetStatus(ActivityStatusCode.Error, outcome.ToString());
            LogToolProblem(call.Name, call.CallId, outcome, duration.TotalMilliseconds, exception);
        }

        await NotifyAsync(new ToolCallRecord(
            context.UserId, context.ConversationId, call.Name, call.CallId, context.Round,
            argumentsJson.Length, argumentsJson, resultSize, duration, outcome, error), cancellationToken).ConfigureAwait(false);

        return new FunctionResultContent(call.CallId, error ?? result) { Exception = exception };
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

    private async Task NotifyAsync(ToolCallRecord record, CancellationToken cancellationToken)
    {
        foreach (var observer in _observers)
        {
            try
            {
                await observer.OnToolCallCompletedAsync(record, cancellationToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                throw;
            }
#pragma warning disable CA1031 // An audit hook must never break the chat; its failure is logged.
            catch (Exception exception)
#pragma warning restore CA1031
            {
                LogObserverFailed(observer.GetType().Name, record.ToolName, exception);
            }
        }
    }

    private static ChatResponse Final(ChatResponse last, List<ChatMessage> exchange, UsageDetails? usage) => new(exchange)
    {
        ResponseId = last.ResponseId,
        ConversationId = last.ConversationId,
        ModelId = last.ModelId,
        CreatedAt = last.CreatedAt,
        FinishReason = last.FinishReason,
        Usage = usage,
        AdditionalProperties = last.AdditionalProperties,
        RawRepresentation = last.RawRepresentation,
    };

    private static IEnumerable<ChatMessage> WithoutCalls(IEnumerable<ChatMessage> messages)
    {
        foreach (var message in messages)
        {
            var clone = message.Clone();
            clone.Contents = [.. message.Contents.Where(c => c is not FunctionCallContent)];
            if (clone.Contents.Count > 0)
            {
                yield return clone;
            }
        }
    }

    private static UsageDetails? Sum(UsageDetails? total, UsageDetails? round)
    {
        if (round is null)
        {
            return total;
        }

        total ??= new UsageDetails();
        total.Add(round);
        return total;
    }

    private static string NewId(string prefix) => $"{prefix}-{Guid.NewGuid():N}";

    private sealed record CallContext(string? UserId, string? ConversationId, int Round, IReadOnlyList<string> ToolNames);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Tool {ToolName} (call {CallId}) ended with {Outcome} after {ElapsedMs:0} ms")]
    private partial void LogToolProblem(string toolName, string callId, ToolCallOutcome outcome, double elapsedMs, Exception? exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The model still asked for {CallCount} tool calls after {MaxRounds} rounds; they were not run")]
    private partial void LogLimitReached(int maxRounds, int callCount);

    [LoggerMessage(Level = LogLevel.Error, Message = "Tool call observer {Observer} failed for tool {ToolName}")]
    private partial void LogObserverFailed(string observer, string toolName, Exception exception);
}
