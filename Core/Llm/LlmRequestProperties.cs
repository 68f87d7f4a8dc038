namespace AspireAi.Core.Llm;

/// <summary>
/// Keys callers put in <c>ChatOptions.AdditionalProperties</c> so the pipeline can attribute work, e.g. tool calls
/// reported to <see cref="Pipeline.IToolCallObserver"/>. They are never sent to the model server.
/// </summary>
public static class LlmRequestProperties
{
    /// <summary>Id of the user the request is made for (string).</summary>
    public const string UserId = "aspireai.user_id";

    /// <summary>Id of the conversation the request belongs to (string).</summary>
    public const string ConversationId = "aspireai.conversation_id";
}
