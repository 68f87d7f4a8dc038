using System.Diagnostics;
using System.Runtime.CompilerServices;
using System.Text;
using AspireAi.Core.Memory;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// Logs each model call: a summary at Information (model, duration, tokens, finish reason), the prompt context
/// (first 500 characters) and the answer (first 200) at Debug only, and failures at Warning. Options, keys and
/// headers are never logged: this layer sees only messages and ChatOptions, which carry no secrets.
/// </summary>
public sealed partial class LoggingChatClient(IChatClient innerClient, ILogger<LoggingChatClient> logger) : DelegatingChatClient(innerClient)
{
    internal const int PromptChars = 500;
    internal const int AnswerChars = 200;

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyCollection<ChatMessage> ?? [.. messages];
        var model = RequestModel(options);
        LogRequest(list, options, model, streaming: false);
        var started = Stopwatch.GetTimestamp();
        try
        {
            var response = await base.GetResponseAsync(list, options, cancellationToken).ConfigureAwait(false);
            LogResponse(response.ModelId ?? model, started, response.Usage, response.FinishReason, response.Text, ToolCallNames(response.Messages.SelectMany(m => m.Contents)));
            return response;
        }
        catch (Exception exception) when (LogFailure(model, started, exception))
        {
            throw; // unreachable: the filter logs and declines
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var list = messages as IReadOnlyCollection<ChatMessage> ?? [.. messages];
        var model = RequestModel(options);
        LogRequest(list, options, model, streaming: true);
        var started = Stopwatch.GetTimestamp();
        var answer = new StringBuilder();
        var usage = new UsageDetails();
        var hasUsage = false;
        string? responseModel = null;
        ChatFinishReason? finishReason = null;
        var toolCalls = new List<string>();
        var completed = false;
        var failed = false;

        await using var updates = base.GetStreamingResponseAsync(list, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        try
        {
            while (true)
            {
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        completed = true;
                        break;
                    }
                }
                catch (Exception exception) when (Fail(exception))
                {
                    throw; // unreachable: the filter logs and declines
                }

                var update = updates.Current;
                responseModel = update.ModelId ?? responseModel;
                finishReason = update.FinishReason ?? finishReason;
                foreach (var content in update.Contents)
                {
                    switch (content)
                    {
                        case TextContent text when answer.Length < AnswerChars:
                            answer.Append(text.Text);
                            break;
                        case UsageContent usageContent:
                            usage.Add(usageContent.Details);
                            hasUsage = true;
                            break;
                        case FunctionCallContent call:
                            toolCalls.Add(call.Name);
                            break;
                        default:
                            break;
                    }
                }

                yield return update;
            }
        }
        finally
        {
            if (completed)
            {
                LogResponse(responseModel ?? model, started, hasUsage ? usage : null, finishReason, answer.ToString(), toolCalls);
            }
            else if (!failed && !cancellationToken.IsCancellationRequested)
            {
                var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                LogAbandoned(responseModel ?? model, elapsed);
            }
        }

        bool Fail(Exception exception)
        {
            failed = true;
            return LogFailure(responseModel ?? model, started, exception);
        }
    }

    private string RequestModel(ChatOptions? options) =>
        options?.ModelId ?? InnerClient.GetService<ChatClientMetadata>()?.DefaultModelId ?? "unknown";

    private void LogRequest(IReadOnlyCollection<ChatMessage> messages, ChatOptions? options, string model, bool streaming)
    {
        if (logger.IsEnabled(LogLevel.Debug))
        {
            var prompt = PromptContext(messages);
            LogRequestDebug(model, streaming, messages.Count, options?.Tools?.Count ?? 0, prompt);
        }
    }

    private void LogResponse(string model, long started, UsageDetails? usage, ChatFinishReason? finishReason, string answer, List<string> toolCalls)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        var calls = toolCalls.Count == 0 ? "-" : string.Join(',', toolCalls);
        LogCompleted(model, elapsed, usage?.InputTokenCount, usage?.OutputTokenCount, finishReason?.Value ?? "none", calls);
        if (logger.IsEnabled(LogLevel.Debug))
        {
            var excerpt = LlmContent.Truncate(SecretDetector.Redact(answer), AnswerChars);
            LogAnswerDebug(model, excerpt);
        }
    }

    private bool LogFailure(string model, long started, Exception exception)
    {
        var elapsed = Stopwatch.GetElapsedTime(started).TotalMilliseconds;
        if (exception is OperationCanceledException)
        {
            LogCancelled(model, elapsed);
        }
        else
        {
            var status = exception is LlmProviderException { StatusCode: { } code } ? code : (int?)null;
            var errorType = exception.GetType().Name;
            LogFailed(model, elapsed, errorType, status, exception);
        }

        return false;
    }

    private static List<string> ToolCallNames(IEnumerable<AIContent> contents) =>
        [.. contents.OfType<FunctionCallContent>().Select(call => call.Name)];

    // The tail of the conversation matters most (the question), but the system context is what goes wrong most
    // often, so the log shows roles and the start of each message until the budget is spent.
    internal static string PromptContext(IEnumerable<ChatMessage> messages)
    {
        var text = new StringBuilder();
        foreach (var message in messages)
        {
            // Users paste keys and passwords into chats; the log gets the placeholder. Redacted before truncating,
            // so a secret cut at the budget's edge is not left half visible.
            var body = SecretDetector.Redact(string.Concat(message.Contents.Select(LlmContent.ToPromptText)).ReplaceLineEndings(" "));
            text.Append('[').Append(message.Role.Value).Append("] ").Append(body).Append(' ');
            if (text.Length >= PromptChars)
            {
                break;
            }
        }

        return LlmContent.Truncate(text.ToString().TrimEnd(), PromptChars);
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "LLM request to {Model} (streaming: {Streaming}), {MessageCount} messages, {ToolCount} tools: {Prompt}")]
    private partial void LogRequestDebug(string model, bool streaming, int messageCount, int toolCount, string prompt);

    [LoggerMessage(Level = LogLevel.Information, Message = "LLM {Model} answered in {ElapsedMs:0} ms: {InputTokens} input / {OutputTokens} output tokens, finish {FinishReason}, tool calls {ToolCalls}")]
    private partial void LogCompleted(string model, double elapsedMs, long? inputTokens, long? outputTokens, string finishReason, string toolCalls);

    [LoggerMessage(Level = LogLevel.Debug, Message = "LLM {Model} answer: {Answer}")]
    private partial void LogAnswerDebug(string model, string answer);

    [LoggerMessage(Level = LogLevel.Warning, Message = "LLM {Model} failed after {ElapsedMs:0} ms with {ErrorType} (HTTP {StatusCode})")]
    private partial void LogFailed(string model, double elapsedMs, string errorType, int? statusCode, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "LLM {Model} call cancelled after {ElapsedMs:0} ms")]
    private partial void LogCancelled(string model, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "LLM {Model} stream abandoned by the caller after {ElapsedMs:0} ms")]
    private partial void LogAbandoned(string model, double elapsedMs);
}
