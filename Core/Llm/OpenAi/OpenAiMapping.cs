using System.Text.Json;
using Microsoft.Extensions.AI;
using OpenAI.Chat;
using AiChatMessage = Microsoft.Extensions.AI.ChatMessage;
using AiFinishReason = Microsoft.Extensions.AI.ChatFinishReason;
using AiResponseFormat = Microsoft.Extensions.AI.ChatResponseFormat;
using OpenAiChatMessage = OpenAI.Chat.ChatMessage;
using OpenAiFinishReason = OpenAI.Chat.ChatFinishReason;
using OpenAiResponseFormat = OpenAI.Chat.ChatResponseFormat;

namespace AspireAi.Core.Llm.OpenAi;

// Microsoft.Extensions.AI <-> OpenAI .NET SDK, in both directions, for the chat-completions API.
internal static class OpenAiMapping
{
    public static List<OpenAiChatMessage> ToOpenAi(IEnumerable<AiChatMessage> messages, string? instructions)
    {
        var result = new List<OpenAiChatMessage>();
        if (!string.IsNullOrWhiteSpace(instructions))
        {
            result.Add(new SystemChatMessage(instructions));
        }

        foreach (var message in messages)
        {
            if (message.Role == ChatRole.System)
            {
                result.Add(new SystemChatMessage(message.Text));
            }
            else if (message.Role == ChatRole.User)
            {
                var parts = UserParts(message.Contents);
                if (parts.Count > 0)
                {
                    result.Add(new UserChatMessage(parts));
                }
            }
            else if (message.Role == ChatRole.Assistant)
            {
                if (Assistant(message) is { } assistant)
                {
                    result.Add(assistant);
                }
            }
            else if (message.Role == ChatRole.Tool)
            {
                foreach (var functionResult in message.Contents.OfType<FunctionResultContent>())
                {
                    var text = LlmContent.SerializeResult(functionResult.Result);
                    result.Add(new ToolChatMessage(functionResult.CallId, text.Length > 0 ? text : "(no result)"));
                }
            }
        }

        return result;
    }

    private static List<ChatMessageContentPart> UserParts(IList<AIContent> contents)
    {
        var parts = new List<ChatMessageContentPart>();
        foreach (var content in contents)
        {
            switch (content)
            {
                case TextContent { Text.Length: > 0 } text:
                    parts.Add(ChatMessageContentPart.CreateTextPart(text.Text));
                    break;
                case DataContent data when data.HasTopLevelMediaType("image"):
                    parts.Add(ChatMessageContentPart.CreateImagePart(BinaryData.FromBytes(data.Data), data.MediaType));
                    break;
                case UriContent uri when uri.HasTopLevelMediaType("image"):
                    parts.Add(ChatMessageContentPart.CreateImagePart(uri.Uri));
                    break;
                default:
                    break;
            }
        }

        return parts;
    }

    private static AssistantChatMessage? Assistant(AiChatMessage message)
    {
        var toolCalls = message.Contents.OfType<FunctionCallContent>()
            .Select(call => ChatToolCall.CreateFunctionToolCall(call.CallId, call.Name, BinaryData.FromString(LlmContent.SerializeArguments(call.Arguments))))
            .ToList();
        var text = string.Concat(message.Contents.OfType<TextContent>().Select(t => t.Text));

        if (toolCalls.Count == 0)
        {
            return text.Length > 0 ? new AssistantChatMessage(text) : null;
        }

        var assistant = new AssistantChatMessage(toolCalls);
        if (text.Length > 0)
        {
            assistant.Content.Add(ChatMessageContentPart.CreateTextPart(text));
        }

        return assistant;
    }

    public static ChatCompletionOptions ToOpenAi(ChatOptions? options, int? defaultMaxOutputTokens)
    {
        var result = new ChatCompletionOptions
        {
            Temperature = options?.Temperature,
            TopP = options?.TopP,
            FrequencyPenalty = options?.FrequencyPenalty,
            PresencePenalty = options?.PresencePenalty,
            MaxOutputTokenCount = options?.MaxOutputTokens ?? defaultMaxOutputTokens,
        };

        if (options is null)
        {
            return result;
        }

        foreach (var stop in options.StopSequences ?? [])
        {
            result.StopSequences.Add(stop);
        }

        foreach (var function in (options.Tools ?? []).OfType<AIFunctionDeclaration>())
        {
            result.Tools.Add(ChatTool.CreateFunctionTool(
                function.Name, function.Description, BinaryData.FromString(function.JsonSchema.GetRawText())));
        }

        if (result.Tools.Count > 0)
        {
            result.ToolChoice = options.ToolMode switch
            {
                NoneChatToolMode => ChatToolChoice.CreateNoneChoice(),
                RequiredChatToolMode { RequiredFunctionName: { } name } => ChatToolChoice.CreateFunctionChoice(name),
                RequiredChatToolMode => ChatToolChoice.CreateRequiredChoice(),
                AutoChatToolMode => ChatToolChoice.CreateAutoChoice(),
                _ => null,
            };
            result.AllowParallelToolCalls = options.AllowMultipleToolCalls;
        }

        result.ResponseFormat = options.ResponseFormat switch
        {
            ChatResponseFormatJson { Schema: { } schema } json => OpenAiResponseFormat.CreateJsonSchemaFormat(
                json.SchemaName ?? "response", BinaryData.FromString(schema.GetRawText()), json.SchemaDescription),
            ChatResponseFormatJson => OpenAiResponseFormat.CreateJsonObjectFormat(),
            AiResponseFormat => null,
            null => null,
        };

        return result;
    }

    public static ChatResponse FromOpenAi(ChatCompletion completion)
    {
        var contents = new List<AIContent>();
        foreach (var part in completion.Content)
        {
            if (part.Kind == ChatMessageContentPartKind.Text && !string.IsNullOrEmpty(part.Text))
            {
                contents.Add(new TextContent(part.Text) { RawRepresentation = part });
            }
        }

        if (!string.IsNullOrEmpty(completion.Refusal))
        {
            contents.Add(new TextContent(completion.Refusal));
        }

        foreach (var call in completion.ToolCalls)
        {
            contents.Add(ParseCall(call.Id, call.FunctionName, call.FunctionArguments?.ToString()));
        }

        var message = new AiChatMessage(ChatRole.Assistant, contents)
        {
            MessageId = completion.Id,
            CreatedAt = completion.CreatedAt,
            RawRepresentation = completion,
        };

        return new ChatResponse(message)
        {
            ResponseId = completion.Id,
            ModelId = completion.Model,
            CreatedAt = completion.CreatedAt,
            FinishReason = FromOpenAi(completion.FinishReason),
            Usage = completion.Usage is { } usage ? FromOpenAi(usage) : null,
            RawRepresentation = completion,
        };
    }

    // Invalid JSON does not throw here: the call carries the parse error in Exception, and the tool loop turns it
    // into an error result the model can correct.
    public static FunctionCallContent ParseCall(string callId, string name, string? arguments) =>
        FunctionCallContent.CreateFromParsedArguments(
            string.IsNullOrWhiteSpace(arguments) ? "{}" : arguments,
            callId,
            name,
            static json => JsonSerializer.Deserialize<Dictionary<string, object?>>(json, AIJsonUtilities.DefaultOptions));

    public static UsageDetails FromOpenAi(ChatTokenUsage usage) => new()
    {
        InputTokenCount = usage.InputTokenCount,
        OutputTokenCount = usage.OutputTokenCount,
        TotalTokenCount = usage.TotalTokenCount,
        CachedInputTokenCount = usage.InputTokenDetails?.CachedTokenCount,
        ReasoningTokenCount = usage.OutputTokenDetails?.ReasoningTokenCount,
    };

    public static AiFinishReason FromOpenAi(OpenAiFinishReason reason) => reason switch
    {
        OpenAiFinishReason.Length => AiFinishReason.Length,
        OpenAiFinishReason.ToolCalls or OpenAiFinishReason.FunctionCall => AiFinishReason.ToolCalls,
        OpenAiFinishReason.ContentFilter => AiFinishReason.ContentFilter,
        _ => AiFinishReason.Stop,
    };

    public static ChatRole? FromOpenAi(ChatMessageRole? role) => role switch
    {
        ChatMessageRole.Assistant => ChatRole.Assistant,
        ChatMessageRole.User => ChatRole.User,
        ChatMessageRole.System => ChatRole.System,
        ChatMessageRole.Tool or ChatMessageRole.Function => ChatRole.Tool,
        _ => null,
    };
}
