using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspireAi.Core.Llm.Pipeline;

/// <summary>How one tool call ended.</summary>
public enum ToolCallOutcome
{
    /// <summary>The tool returned a result.</summary>
    Succeeded,
    /// <summary>The tool threw; the model got an error result.</summary>
    Failed,
    /// <summary>The tool exceeded <see cref="ToolLoopOptions.ToolTimeoutSeconds"/>.</summary>
    TimedOut,
    /// <summary>The arguments were not valid JSON or did not match the tool's schema; the tool did not run.</summary>
    InvalidArguments,
}

/// <summary>One tool call run by the pipeline's function invocation, for auditing. Sizes are UTF-16 characters of the JSON.</summary>
/// <param name="UserId">From <c>ChatOptions.AdditionalProperties[LlmRequestProperties.UserId]</c>, if the caller set it.</param>
/// <param name="ConversationId">From <c>ChatOptions.AdditionalProperties[LlmRequestProperties.ConversationId]</c>.</param>
/// <param name="ToolName">The tool the model asked for.</param>
/// <param name="CallId">The model's id of the call.</param>
/// <param name="Round">1-based round of tool calls within the request.</param>
/// <param name="ArgumentsSize">Length of the arguments JSON.</param>
/// <param name="Arguments">The arguments JSON as the model sent it (may hold secrets the user typed: redact before storing).</param>
/// <param name="ResultSize">Length of the result as sent to the model.</param>
/// <param name="Duration">Time the tool ran.</param>
/// <param name="Outcome">How the call ended.</param>
/// <param name="Error">Error text given to the model, when not <see cref="ToolCallOutcome.Succeeded"/>.</param>
public sealed record ToolCallRecord(
    string? UserId, string? ConversationId, string ToolName, string CallId, int Round,
    int ArgumentsSize, string Arguments, int ResultSize, TimeSpan Duration, ToolCallOutcome Outcome, string? Error);

/// <summary>
/// Sees every tool call the pipeline runs (after it ends), e.g. to write an audit row. Calls naming a tool that was
/// not offered never run and are answered by the library's function invocation without reaching observers. Register any number with
/// <see cref="ToolCallObserverExtensions.AddToolCallObserver{T}"/>; they run one after another, and an observer that
/// throws is logged and otherwise ignored, so auditing can never break a chat.
/// </summary>
public interface IToolCallObserver
{
    /// <summary>Called once per tool call, after the result is known.</summary>
    ValueTask OnToolCallCompletedAsync(ToolCallRecord record, CancellationToken cancellationToken);
}

/// <summary>Registration of <see cref="IToolCallObserver"/>s.</summary>
public static class ToolCallObserverExtensions
{
    /// <summary>Adds an observer (singleton).</summary>
    public static IServiceCollection AddToolCallObserver<T>(this IServiceCollection services) where T : class, IToolCallObserver
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IToolCallObserver, T>());
        return services;
    }
}
