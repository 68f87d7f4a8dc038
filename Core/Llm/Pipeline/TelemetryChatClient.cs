using System.Diagnostics;
using System.Runtime.CompilerServices;
using Microsoft.Extensions.AI;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>
/// One client span (<c>chat {model}</c>) and the GenAI client metrics per model call, following the OpenTelemetry
/// GenAI semantic conventions: request/response model, finish reasons, token usage, duration, time to first chunk
/// and <c>error.type</c>. A streamed call's span ends when the stream ends, fails or is abandoned by its consumer.
/// Message contents are never recorded.
/// </summary>
public sealed class TelemetryChatClient(IChatClient innerClient) : DelegatingChatClient(innerClient)
{
    private const string Operation = "chat";

    /// <inheritdoc />
    public override async Task<ChatResponse> GetResponseAsync(IEnumerable<ChatMessage> messages, ChatOptions? options = null, CancellationToken cancellationToken = default)
    {
        var call = Start(options, streaming: false);
        try
        {
            var response = await base.GetResponseAsync(messages, options, cancellationToken).ConfigureAwait(false);
            call.Observe(response);
            call.End(error: null);
            return response;
        }
        catch (Exception exception)
        {
            call.End(exception);
            throw;
        }
    }

    /// <inheritdoc />
    public override async IAsyncEnumerable<ChatResponseUpdate> GetStreamingResponseAsync(
        IEnumerable<ChatMessage> messages, ChatOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        var call = Start(options, streaming: true);
        IAsyncEnumerator<ChatResponseUpdate> updates;
        try
        {
            updates = base.GetStreamingResponseAsync(messages, options, cancellationToken).GetAsyncEnumerator(cancellationToken);
        }
        catch (Exception exception)
        {
            call.End(exception);
            throw;
        }

        Exception? error = null;
        var completed = false;
        try
        {
            while (true)
            {
                ChatResponseUpdate update;
                try
                {
                    if (!await updates.MoveNextAsync().ConfigureAwait(false))
                    {
                        completed = true;
                        break;
                    }

                    update = updates.Current;
                }
                catch (Exception exception)
                {
                    error = exception;
                    throw;
                }

                call.Observe(update);
                yield return update;
            }
        }
        finally
        {
            // Reached on completion, on failure, and when the consumer stops early (DisposeAsync of this iterator).
            call.End(error, abandoned: !completed && error is null);
            await updates.DisposeAsync().ConfigureAwait(false);
        }
    }

    private CallTelemetry Start(ChatOptions? options, bool streaming)
    {
        var metadata = InnerClient.GetService<ChatClientMetadata>();
        var requestModel = options?.ModelId ?? metadata?.DefaultModelId ?? "unknown";
        var provider = metadata?.ProviderName ?? "unknown";
        var activity = LlmTelemetry.ActivitySource.StartActivity($"{Operation} {requestModel}", ActivityKind.Client);
        if (activity is { IsAllDataRequested: true })
        {
            activity.SetTag(LlmTelemetry.Attributes.OperationName, Operation);
            activity.SetTag(LlmTelemetry.Attributes.ProviderName, provider);
            activity.SetTag(LlmTelemetry.Attributes.System, provider);
            activity.SetTag(LlmTelemetry.Attributes.RequestModel, requestModel);
            if (options?.MaxOutputTokens is { } maxTokens)
            {
                activity.SetTag(LlmTelemetry.Attributes.RequestMaxTokens, maxTokens);
            }

            if (options?.Temperature is { } temperature)
            {
                activity.SetTag(LlmTelemetry.Attributes.RequestTemperature, temperature);
            }

            if (options?.TopP is { } topP)
            {
                activity.SetTag(LlmTelemetry.Attributes.RequestTopP, topP);
            }

            if (metadata?.ProviderUri is { IsAbsoluteUri: true } uri)
            {
                activity.SetTag(LlmTelemetry.Attributes.ServerAddress, uri.Host);
                activity.SetTag(LlmTelemetry.Attributes.ServerPort, uri.Port);
            }
        }

        return new CallTelemetry(activity, provider, requestModel, streaming);
    }

    private sealed class CallTelemetry(Activity? activity, string provider, string requestModel, bool streaming)
    {
        private readonly long _started = Stopwatch.GetTimestamp();
        private readonly List<string> _finishReasons = [];
        private string? _responseModel;
        private string? _responseId;
        private long? _inputTokens;
        private long? _outputTokens;
        private bool _firstChunkSeen;
        private bool _ended;

        public void Observe(ChatResponse response)
        {
            _responseModel = response.ModelId ?? _responseModel;
            _responseId = response.ResponseId ?? _responseId;
            if (response.FinishReason is { } reason)
            {
                _finishReasons.Add(reason.Value);
            }

            AddUsage(response.Usage);
        }

        public void Observe(ChatResponseUpdate update)
        {
            if (!_firstChunkSeen && update.Contents.Count > 0)
            {
                _firstChunkSeen = true;
                LlmTelemetry.TimeToFirstChunk.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, BaseTags());
            }

            _responseModel = update.ModelId ?? _responseModel;
            _responseId ??= update.ResponseId;
            if (update.FinishReason is { } reason && !_finishReasons.Contains(reason.Value))
            {
                _finishReasons.Add(reason.Value);
            }

            foreach (var usage in update.Contents.OfType<UsageContent>())
            {
                AddUsage(usage.Details);
            }
        }

        public void End(Exception? error, bool abandoned = false)
        {
            if (_ended)
            {
                return;
            }

            _ended = true;
            var tags = BaseTags();
            string? errorType = error is null ? null : error.GetType().FullName;
            if (errorType is not null)
            {
                tags.Add(LlmTelemetry.Attributes.ErrorType, errorType);
            }

            LlmTelemetry.OperationDuration.Record(Stopwatch.GetElapsedTime(_started).TotalSeconds, tags);
            if (_inputTokens is { } input)
            {
                var inputTags = BaseTags();
                inputTags.Add(LlmTelemetry.Attributes.TokenType, "input");
                LlmTelemetry.TokenUsage.Record(input, inputTags);
            }

            if (_outputTokens is { } output)
            {
                var outputTags = BaseTags();
                outputTags.Add(LlmTelemetry.Attributes.TokenType, "output");
                LlmTelemetry.TokenUsage.Record(output, outputTags);
            }

            if (activity is null)
            {
                return;
            }

            if (activity.IsAllDataRequested)
            {
                activity.SetTag(LlmTelemetry.Attributes.ResponseModel, _responseModel);
                activity.SetTag(LlmTelemetry.Attributes.ResponseId, _responseId);
                if (_finishReasons.Count > 0)
                {
                    activity.SetTag(LlmTelemetry.Attributes.ResponseFinishReasons, _finishReasons.ToArray());
                }

                activity.SetTag(LlmTelemetry.Attributes.InputTokens, _inputTokens);
                activity.SetTag(LlmTelemetry.Attributes.OutputTokens, _outputTokens);
                if (abandoned)
                {
                    activity.SetTag("aspireai.llm.stream_abandoned", true);
                }
            }

            if (errorType is not null)
            {
                activity.SetTag(LlmTelemetry.Attributes.ErrorType, errorType);
                activity.SetStatus(ActivityStatusCode.Error, error!.Message);
            }

            activity.Dispose();
        }

        private void AddUsage(UsageDetails? usage)
        {
            if (usage?.InputTokenCount is { } input)
            {
                _inputTokens = (_inputTokens ?? 0) + input;
            }

            if (usage?.OutputTokenCount is { } output)
            {
                _outputTokens = (_outputTokens ?? 0) + output;
            }
        }

        private TagList BaseTags()
        {
            var tags = new TagList
            {
                { LlmTelemetry.Attributes.OperationName, Operation },
                { LlmTelemetry.Attributes.ProviderName, provider },
                { LlmTelemetry.Attributes.RequestModel, requestModel },
                { "aspireai.llm.streaming", streaming },
            };
            if (_responseModel is not null)
            {
                tags.Add(LlmTelemetry.Attributes.ResponseModel, _responseModel);
            }

            return tags;
        }
    }
}
