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

    [Theory]
    [InlineData("I live on St. James St. in Dublin. I work at Hooli.", "I live on St. James St. in Dublin.|I work at Hooli.")]
    [InlineData("My favourite author is J. R. R. Tolkien.", "My favourite author is J. R. R. Tolkien.")]
    [InlineData("I moved to the U.S. in 2019; we like it.", "I moved to the U.S. in 2019;|we like it.")]
    [InlineData("Ask Dr. Lee, e.g. about Acme Inc. plans! Then stop", "Ask Dr. Lee, e.g. about Acme Inc. plans!|Then stop")]
    [InlineData("I live on Main St. I work at Acme.", "I live on Main St.|I work at Acme.")]
    public void Sentences_are_not_cut_after_abbreviations_or_initials(string text, string expected) =>
        Assert.Equal(expected.Split('|'), OfflineFactExtractor.Sentences(text).Select(s => s.Trim()));

    [Theory]
    [InlineData("Actually, I live in Porto, not Lisbon.", "Lives in Porto")]
    [InlineData("I'm vegan now.", "Is vegan")]
    [InlineData("I eat meat again.", "Eats meat")]
    [InlineData("These days I'm based in Valencia.", "Lives in Valencia")]
    [InlineData("I switched from Vim to Emacs.", "Uses Emacs")]
    [InlineData("Sorry, my name is actually Jon.", "Name is Jon")]
    public void Changes_of_state_and_corrections_supersede(string text, string expected)
    {
        var fact = Assert.Single(Extract(text));

        Assert.Equal((expected, true, false), (fact.Text, fact.Supersedes, fact.Retraction));
    }

    [Theory]
    [InlineData("I stopped drinking coffee.", "Drinks coffee")]
    [InlineData("I left Hooli last week.", "Works at Hooli")]
    [InlineData("I quit my job.", "Works at")]
    [InlineData("I sold my car.", "Has a car")]
    [InlineData("I'm not vegetarian anymore.", "Is vegetarian")]
    [InlineData("Forget where I live.", "Lives in")]
    [InlineData("Please forget about my cat.", "Their cat")]
    public void Stopping_leaving_and_forgetting_are_retractions(string text, string expected)
    {
        var fact = Assert.Single(Extract(text));

        Assert.Equal((expected, true), (fact.Text, fact.Retraction));
    }

    [Theory]
    [InlineData("Please call me Rob from now on.", "Prefers to be called Rob")]
    [InlineData("I'd rather you call me Samantha.", "Prefers to be called Samantha")]
    [InlineData("I'd prefer you call me Dr. Lee.", "Prefers to be called Dr. Lee")]
    [InlineData("I go by Liz these days.", "Prefers to be called Liz")]
    [InlineData("My nickname is Bubbles.", "Prefers to be called Bubbles")]
    public void Requests_to_be_called_something_else_are_extracted(string text, string expected) =>
        Assert.Equal(expected, Assert.Single(Extract(text)).Text);

    [Theory]
    [InlineData("Please remember that for this chat my name is Zed.", "Name is Zed")]
    [InlineData("Remember that I'm allergic to shellfish, for this conversation only.", "Is allergic to shellfish")]
    [InlineData("Just for today, reply in German.", "Reply in German")]
    [InlineData("For this project, always use Python for code examples.", "Always use Python for code examples")]
    public void An_explicit_conversation_scope_is_kept_whatever_else_the_sentence_says(string text, string expected)
    {
        var fact = Assert.Single(Extract(text));

        Assert.Equal((expected, MemoryScope.Session), (fact.Text, fact.Scope));
        Assert.True(OfflineFactExtractor.HasSessionCue(text));
    }

    [Theory]
    [InlineData("I'm working at eating healthier.")]
    [InlineData("I work at getting better sleep.")]
    [InlineData("I live in fear of deadlines.")]
    [InlineData("I love that!")]
    [InlineData("I have a question about Python.")]
    [InlineData("I have to go now.")]
    [InlineData("Call me when you're done.")]
    [InlineData("I started learning Rust.")]
    public void Odd_phrasings_yield_no_nonsense_facts(string text) =>
        Assert.DoesNotContain(Extract(text), f => f.Text.StartsWith("Works at", StringComparison.Ordinal)
            || f.Text.StartsWith("Lives in", StringComparison.Ordinal) || f.Text.StartsWith("Prefers to be called", StringComparison.Ordinal)
            || f.Text.StartsWith("Has a question", StringComparison.Ordinal) || f.Text.StartsWith("Loves that", StringComparison.Ordinal)
            || f.Text.StartsWith("Has to", StringComparison.Ordinal));

    [Theory]
    [InlineData("I don't eat meat.", "Doesn't eat meat")]
    [InlineData("I do not own a car.", "Doesn't own a car")]
    [InlineData("I never drink coffee after noon.", "Never drinks coffee after noon")]
    [InlineData("I live in Oslo, work at Equinor and play chess.", "Lives in Oslo|Works at Equinor|Plays chess")]
    [InlineData("My name is Elizabeth but everyone calls me Liz.", "Name is Elizabeth|Prefers to be called Liz")]
    public void Negations_and_compound_statements(string text, string expected) =>
        Assert.Equal(expected.Split('|'), Extract(text).Select(f => f.Text));

    [Theory]
    [InlineData("drinking", "drink")]
    [InlineData("using", "use")]
    [InlineData("running", "run")]
    [InlineData("cycling", "cycle")]
    [InlineData("writing", "write")]
    [InlineData("visiting", "visit")]
    [InlineData("dancing", "dance")]
    public void Gerunds_go_back_to_their_verb(string gerund, string verb) => Assert.Equal(verb, OfflineFactExtractor.BaseOfGerund(gerund));
}

/// <summary>The grammar-level rules behind the held-out sets, each on sentences that are in neither set.</summary>
public sealed class OfflineFactGrammarTests
{
    private static string[] Texts(string text) => [.. OfflineFactExtractor.Extract([("user", text)], 20).Select(f => f.Text)];

    [Theory]
    [InlineData("I brew my own beer and grow tomatoes.", new[] { "Brews their own beer", "Grows tomatoes" })]
    [InlineData("I sing in a choir, sew my own clothes and ride a motorbike.", new[] { "Sings in a choir", "Sews their own clothes", "Rides a motorbike" })]
    [InlineData("My son plays rugby and my niece teaches yoga.", new[] { "Son plays rugby", "Niece teaches yoga" })]
    [InlineData("I eat rice and fish.", new[] { "Eats rice and fish" })]
    public void A_clause_that_continues_the_subject_or_speaks_of_someone_close_is_its_own_fact(string text, string[] expected) =>
        Assert.Equal(expected, Texts(text));

    [Theory]
    [InlineData("I have a kayak and two bikes.", new[] { "Has a kayak", "Has two bikes" })]
    [InlineData("I've got a niece named Ola and a nephew named Jan.", new[] { "Has a niece named Ola", "Has a nephew named Jan" })]
    [InlineData("I speak Hindi and Tamil.", new[] { "Speaks Hindi and Tamil" })]
    public void A_coordinated_object_with_its_own_determiners_gives_one_fact_per_thing(string text, string[] expected) =>
        Assert.Equal(expected, Texts(text));

    [Theory]
    [InlineData("My dad's a carpenter.", "Dad is a carpenter")]
    [InlineData("My surname's Novak.", "Surname is Novak")]
    [InlineData("I work for a charity in Leeds.", "Works for a charity in Leeds")]
    [InlineData("I vape.", "Vapes")]
    [InlineData("I'm not a coffee drinker.", "Is not a coffee drinker")]
    public void Contractions_prepositions_habits_and_denied_states_are_read(string text, string expected) =>
        Assert.Equal([expected], Texts(text));

    [Theory]
    [InlineData("I live to eat.")]
    [InlineData("I'm itching to try it.")]
    [InlineData("I'm quite done here.")]
    [InlineData("My brother's car.")]
    [InlineData("I have a crack at that later.")]
    public void Figures_of_speech_and_wishes_are_not_facts(string text) => Assert.Empty(Texts(text));

    [Fact]
    public void An_instruction_about_the_assistants_answers_is_standing_and_its_aspect_is_one_attribute()
    {
        var fact = Assert.Single(OfflineFactExtractor.Extract([("user", "Make your explanations brief.")], 20));

        Assert.Equal(MemoryType.Procedural, fact.Type);
        Assert.Equal("answers:length", ConsolidationRules.SingleValuedKey(fact.Text));
        Assert.Equal("answers:length", ConsolidationRules.SingleValuedKey("Write detailed replies"));
        Assert.Equal("answers:tone", ConsolidationRules.SingleValuedKey("Keep your messages friendly"));
        Assert.Equal("answers:language", ConsolidationRules.SingleValuedKey("Reply in Portuguese"));
        var decision = ConsolidationRules.Decide(new MemoryFact("Write detailed replies", MemoryType.Procedural, 0.8f, [], false), [("m1", fact.Text)]);
        Assert.Equal((MemoryOperation.Update, "m1"), (decision.Operation, decision.TargetId));
    }

    [Fact]
    public void A_request_for_a_kind_of_answer_that_says_it_stands_is_an_instruction()
    {
        var fact = Assert.Single(OfflineFactExtractor.Extract([("user", "Going forward, show me shorter examples.")], 20));

        Assert.Equal(("Show me shorter examples", MemoryType.Procedural), (fact.Text, fact.Type));
        Assert.Empty(OfflineFactExtractor.Extract([("user", "Show me shorter examples.")], 20));
    }

    [Fact]
    public void A_denied_state_flips_the_affirmed_one()
    {
        var decision = ConsolidationRules.Decide(new MemoryFact("Is not a night owl", MemoryType.Semantic, 0.6f, [], false), [("m1", "Is a night owl")]);

        Assert.Equal((MemoryOperation.Update, "m1"), (decision.Operation, decision.TargetId));
    }
}
