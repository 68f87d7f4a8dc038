using AspireAi.Core.Chat;
using AspireAi.Core.Llm;

namespace AspireAi.Tests.Chat;

public sealed class MessageTokenCountsTests
{
    // Counted differently by o200k_base (the default) and cl100k_base (gpt-4).
    private const string Text = "Привет! Je voudrais réserver une table pour deux personnes à 20 h, s'il vous plaît. 東京で会いましょう。";

    [Fact]
    public void A_message_is_counted_by_the_tokenizer_of_each_model_and_the_count_is_kept_per_model()
    {
        using var counts = new MessageTokenCounts();
        var id = Guid.CreateVersion7();
        var byDefault = TokenCounter.Count(Text);
        var byGpt4 = TokenCounter.Count(Text, "gpt-4");
        Assert.NotEqual(byDefault, byGpt4);

        Assert.Equal(byDefault, counts.Count(id, Text, null));
        Assert.Equal(byGpt4, counts.Count(id, Text, "gpt-4"));
        // Again, from the cache: still each model's own count.
        Assert.Equal(byDefault, counts.Count(id, Text, null));
        Assert.Equal(byGpt4, counts.Count(id, Text, "gpt-4"));
    }

    [Fact]
    public void Each_message_has_its_own_count()
    {
        using var counts = new MessageTokenCounts();
        Assert.Equal(TokenCounter.Count("one two three"), counts.Count(Guid.CreateVersion7(), "one two three", null));
        Assert.Equal(TokenCounter.Count(Text), counts.Count(Guid.CreateVersion7(), Text, null));
    }
}
