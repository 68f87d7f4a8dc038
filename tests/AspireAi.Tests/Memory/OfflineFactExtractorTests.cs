using AspireAi.Core.Memory;

namespace AspireAi.Tests.Memory;

public sealed class OfflineFactExtractorTests
{
    private static List<MemoryFact> Extract(string text) => [.. OfflineFactExtractor.Extract([("user", text)], 20)];

    [Fact]
    public void First_person_statements_become_atomic_facts()
    {
        var facts = Extract("I work at Acme Corp in the billing team. We use Stripe.");

        Assert.Equal(["Works at Acme Corp", "Is in the billing team", "Uses Stripe"], facts.Select(f => f.Text));
        Assert.All(facts, f => Assert.Equal(MemoryType.Semantic, f.Type));
        Assert.All(facts, f => Assert.False(f.Retraction));
        Assert.Contains(facts[0].Entities, e => e is { Name: "Acme Corp", Type: "organization" });
        Assert.Contains(facts[2].Entities, e => e.Name == "Stripe");
    }

    [Fact]
    public void Joining_a_company_is_phrased_as_working_there()
    {
        var fact = Assert.Single(Extract("I just joined Globex as a platform engineer."));

        Assert.Equal("Works at Globex as a platform engineer", fact.Text);
        Assert.Equal("employer", ConsolidationRules.SingleValuedKey(fact.Text));
    }

    [Theory]
    [InlineData("Always use TypeScript for code examples", "Always use TypeScript for code examples")]
    [InlineData("From now on, answer in French.", "Answer in French")]
    [InlineData("Please never use semicolons in JavaScript", "Never use semicolons in JavaScript")]
    public void Standing_instructions_are_procedural(string text, string expected)
    {
        var fact = Assert.Single(Extract(text));

        Assert.Equal(expected, fact.Text);
        Assert.Equal(MemoryType.Procedural, fact.Type);
    }

    [Theory]
    [InlineData("Forget that I use Stripe", "Uses Stripe")]
    [InlineData("I no longer work at Acme Corp", "Works at Acme Corp")]
    [InlineData("I don't use Stripe anymore.", "Uses Stripe")]
    public void Retractions_name_the_fact_to_forget(string text, string expected)
    {
        var fact = Assert.Single(Extract(text));

        Assert.Equal(expected, fact.Text);
        Assert.True(fact.Retraction);
    }

    [Theory]
    [InlineData("Where do I work?")]
    [InlineData("Write a function that reverses a string")]
    [InlineData("Show me a code example that reverses a string")]
    [InlineData("I think that is wrong")]
    [InlineData("I need help with my code")]
    [InlineData("Hello!")]
    [InlineData("Can you summarise this article for me")]
    [InlineData("I'm not sure about that")]
    public void Questions_requests_and_small_talk_yield_nothing(string text) => Assert.Empty(Extract(text));

    [Fact]
    public void Names_preferences_events_and_compound_sentences()
    {
        Assert.Equal("Name is Alice", Assert.Single(Extract("Hi, I'm Alice")).Text);
        Assert.Equal("Name is Bob", Assert.Single(Extract("My name is Bob.")).Text);
        Assert.Equal("Prefers to be called Max", Assert.Single(Extract("Call me Max")).Text);
        Assert.Equal(["Works at Initech", "Lives in Berlin"], Extract("I work at Initech and I live in Berlin").Select(f => f.Text));
        var trip = Assert.Single(Extract("I visited Lisbon last week."));
        Assert.Equal(("Visited Lisbon last week", MemoryType.Episodic), (trip.Text, trip.Type));
        Assert.Equal("Has two kids", Assert.Single(Extract("I have two kids")).Text);
        Assert.Equal("Is allergic to peanuts", Assert.Single(Extract("I'm allergic to peanuts")).Text);
        Assert.Equal("Lives in Lisbon", Assert.Single(Extract("I moved to Lisbon")).Text);
    }

    [Fact]
    public void A_fact_limited_to_the_conversation_is_session_scoped()
    {
        var fact = Assert.Single(Extract("For this conversation, call me Captain"));

        Assert.Equal("Prefers to be called Captain", fact.Text);
        Assert.Equal(MemoryScope.Session, fact.Scope);
    }

    [Fact]
    public void Assistant_messages_and_opted_out_messages_are_ignored()
    {
        Assert.Empty(OfflineFactExtractor.Extract([("assistant", "I work at OpenAI")], 20));
        Assert.Empty(Extract("Don't remember this: I am interviewing at Globex."));
        Assert.Empty(Extract("Off the record, I work at Hooli."));
    }

    [Fact]
    public void The_fact_limit_is_respected_and_duplicates_are_dropped()
    {
        var facts = OfflineFactExtractor.Extract([("user", "I use Go. I use Go. I use Rust. I use Java.")], 2);

        Assert.Equal(["Uses Go", "Uses Rust"], facts.Select(f => f.Text));
    }
}
