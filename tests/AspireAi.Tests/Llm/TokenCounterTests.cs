using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;

namespace AspireAi.Tests.Llm;

// Counts are tiktoken's, as OpenAI bills them; the figures are those of OpenAI's own encodings.
public sealed class TokenCounterTests
{
    [Fact]
    public void Text_is_counted_with_the_o200k_encoding_by_default()
    {
        Assert.Equal(0, TokenCounter.Count(""));
        Assert.Equal(0, TokenCounter.Count((string?)null));
        Assert.Equal(2, TokenCounter.Count("hello world"));
        Assert.Equal(6, TokenCounter.Count("tiktoken is great!"));
        Assert.Equal(9, TokenCounter.Count("Привет, как дела? Всё хорошо."));
    }

    [Fact]
    public void Each_model_family_is_counted_with_its_own_encoding()
    {
        const string russian = "Привет, как дела? Всё хорошо.";
        Assert.Equal(17, TokenCounter.Count(russian, "gpt-4"));
        Assert.Equal(9, TokenCounter.Count(russian, "gpt-4o"));
        Assert.Equal(4, TokenCounter.Count("こんにちは世界", "gpt-3.5-turbo"));
        Assert.Equal(2, TokenCounter.Count("こんにちは世界", "gpt-4o-mini"));
        // Models tiktoken does not know (the offline model, a local server's) get the default encoding.
        Assert.Equal(9, TokenCounter.Count(russian, "offline-chat-1"));
        Assert.Equal(9, TokenCounter.Count(russian, "llama3.1:8b"));
    }

    [Fact]
    public void A_conversation_counts_each_message_with_the_chat_formats_overhead()
    {
        Assert.Equal(2 + 3, TokenCounter.Count([new ChatMessage(ChatRole.User, "hello world")]));
        Assert.Equal(2 + 6 + 3 + 3, TokenCounter.Count([
            new ChatMessage(ChatRole.System, "hello world"),
            new ChatMessage(ChatRole.User, "tiktoken is great!"),
        ]));
    }
}
