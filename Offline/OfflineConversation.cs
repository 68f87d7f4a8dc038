using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;

namespace AspireAi.Offline;

// The parts of a request the offline model answers from: the last user message, memories and sources blocks
// (LlmPromptBlocks), other system instructions, and the tool results that arrived since the user spoke.
internal sealed class OfflineConversation
{
    private OfflineConversation(
        IReadOnlyList<ChatMessage> messages, string userText, IReadOnlyList<string> systemTexts,
        IReadOnlyList<PromptBlockItem> memories, IReadOnlyList<PromptBlockItem> sources, IReadOnlyList<ToolOutcome> toolResults)
    {
        Messages = messages;
        UserText = userText;
        SystemTexts = systemTexts;
        Memories = memories;
        Sources = sources;
        ToolResults = toolResults;
    }

    public IReadOnlyList<ChatMessage> Messages { get; }
    public string UserText { get; }
    public IReadOnlyList<string> SystemTexts { get; }
    public IReadOnlyList<PromptBlockItem> Memories { get; }
    public IReadOnlyList<PromptBlockItem> Sources { get; }
    public IReadOnlyList<ToolOutcome> ToolResults { get; }

    public static OfflineConversation From(IEnumerable<ChatMessage> messages)
    {
        var list = messages as IReadOnlyList<ChatMessage> ?? [.. messages];
        var systemTexts = new List<string>();
        var memories = new List<PromptBlockItem>();
        var sources = new List<PromptBlockItem>();
        var lastUserIndex = LastUserIndex(list);
        for (var i = 0; i < list.Count; i++)
        {
            var message = list[i];
            var text = message.Text;
            var isData = LlmPromptBlocks.IsData(text) && i < lastUserIndex;
            if (message.Role == ChatRole.System)
            {
                systemTexts.Add(text);
            }
            else if (!isData)
            {
                continue;
            }
            if (LlmPromptBlocks.Parse(text) is { } block)
            {
                if (block.Heading.Equals(LlmPromptBlocks.MemoriesHeading, StringComparison.OrdinalIgnoreCase))
                {
                    memories.AddRange(block.Items);
                }
                else if (block.Heading.Equals(LlmPromptBlocks.SourcesHeading, StringComparison.OrdinalIgnoreCase))
                {
                    sources.AddRange(block.Items);
                }
            }
        }

        var lastUser = lastUserIndex;

        // Tool results count only for the current turn: those of earlier turns were answered already.
        var callNames = new Dictionary<string, string>(StringComparer.Ordinal);
        var toolResults = new List<ToolOutcome>();
        for (var i = lastUser + 1; i < list.Count; i++)
        {
            foreach (var content in list[i].Contents)
            {
                if (content is FunctionCallContent call)
                {
                    callNames[call.CallId] = call.Name;
                }
                else if (content is FunctionResultContent result)
                {
                    var name = callNames.GetValueOrDefault(result.CallId, "tool");
                    var text = LlmContent.SerializeResult(result.Result);
                    var failed = result.Exception is not null || text.StartsWith("Error:", StringComparison.OrdinalIgnoreCase);
                    toolResults.Add(new ToolOutcome(name, result.CallId, text, failed));
                }
            }
        }

        var userText = lastUser >= 0 ? list[lastUser].Text.Trim() : string.Empty;
        return new OfflineConversation(list, userText, systemTexts, memories, sources, toolResults);
    }

    // The user's question is the last user message that is not a data envelope.
    private static int LastUserIndex(IReadOnlyList<ChatMessage> list)
    {
        for (var i = list.Count - 1; i >= 0; i--)
        {
            if (list[i].Role == ChatRole.User && !LlmPromptBlocks.IsData(list[i].Text))
            {
                return i;
            }
        }
        return -1;
    }
}

internal sealed record ToolOutcome(string ToolName, string CallId, string Text, bool Failed);
