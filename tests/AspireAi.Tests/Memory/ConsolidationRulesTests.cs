using AspireAi.Core.Memory;

namespace AspireAi.Tests.Memory;

public sealed class ConsolidationRulesTests
{
    private static MemoryFact Fact(string text, bool retraction = false, MemoryType type = MemoryType.Semantic) => new(text, type, 0.5f, [], retraction);

    private static MemoryDecision Decide(MemoryFact fact, params string[] existing) =>
        ConsolidationRules.Decide(fact, [.. existing.Select((text, i) => ($"m{i + 1}", text))]);

    [Fact]
    public void Nothing_similar_is_an_add() =>
        Assert.Equal(MemoryOperation.Add, Decide(Fact("Uses Stripe"), "Works at Acme Corp").Operation);

    [Theory]
    [InlineData("Uses Stripe", "uses stripe.")]
    [InlineData("Prefers dark mode", "I prefer dark mode")]
    [InlineData("Works at Globex", "Works at Globex as a platform engineer")]
    public void Identical_near_identical_and_subsumed_facts_are_noops(string fact, string existing)
    {
        var decision = Decide(Fact(fact), "Lives in Berlin", existing);

        Assert.Equal((MemoryOperation.Noop, "m2"), (decision.Operation, decision.TargetId));
    }

    [Fact]
    public void A_new_value_of_a_single_valued_predicate_updates_the_old_one()
    {
        var decision = Decide(Fact("Works at Globex as a platform engineer"), "Uses Stripe", "Works at Acme Corp", "Is in the billing team");

        Assert.Equal((MemoryOperation.Update, "m2", "Works at Globex as a platform engineer"), (decision.Operation, decision.TargetId, decision.Text));
    }

    [Fact]
    public void More_detail_about_a_memory_updates_it_and_multi_valued_facts_are_added()
    {
        Assert.Equal(MemoryOperation.Update, Decide(Fact("Uses Stripe for subscriptions"), "Uses Stripe").Operation);
        Assert.Equal(MemoryOperation.Add, Decide(Fact("Uses PostgreSQL"), "Uses Stripe").Operation);
    }

    [Fact]
    public void A_retraction_deletes_the_memory_it_names_or_does_nothing()
    {
        var delete = Decide(Fact("Uses Stripe", retraction: true), "Works at Acme Corp", "Uses Stripe for payments");
        Assert.Equal((MemoryOperation.Delete, "m2"), (delete.Operation, delete.TargetId));

        var nothing = Decide(Fact("Uses PayPal", retraction: true), "Works at Acme Corp", "Uses Stripe");
        Assert.Equal((MemoryOperation.Noop, null), (nothing.Operation, nothing.TargetId));
    }

    [Fact]
    public void A_changed_instruction_replaces_the_old_one()
    {
        var decision = Decide(Fact("Always use Python for code examples", type: MemoryType.Procedural), "Always use TypeScript for code examples");

        Assert.Equal((MemoryOperation.Update, "m1"), (decision.Operation, decision.TargetId));
    }

    [Fact]
    public void Guards_turn_a_delete_of_a_repeated_fact_into_a_noop()
    {
        var (decision, correction) = ConsolidationRules.Guard(new MemoryDecision(MemoryOperation.Delete, "m1", null, "duplicate"),
            Fact("Uses Stripe"), [("m1", "Uses Stripe")]);

        Assert.Equal((MemoryOperation.Noop, "m1"), (decision.Operation, decision.TargetId));
        Assert.NotNull(correction);
    }

    [Fact]
    public void Guards_never_lose_a_contradicting_fact()
    {
        var (decision, correction) = ConsolidationRules.Guard(new MemoryDecision(MemoryOperation.Delete, "m1", null, "contradicts"),
            Fact("Works at Globex"), [("m1", "Works at Acme")]);

        Assert.Equal((MemoryOperation.Update, "m1", "Works at Globex"), (decision.Operation, decision.TargetId, decision.Text));
        Assert.NotNull(correction);
    }

    [Fact]
    public void Guards_never_let_a_retraction_add_and_drop_unknown_targets()
    {
        var (retraction, _) = ConsolidationRules.Guard(new MemoryDecision(MemoryOperation.Add, null, "Uses Stripe", "new"),
            Fact("Uses Stripe", retraction: true), [("m1", "Uses Stripe")]);
        Assert.Equal((MemoryOperation.Delete, "m1"), (retraction.Operation, retraction.TargetId));

        var (unknown, _) = ConsolidationRules.Guard(new MemoryDecision(MemoryOperation.Update, "m9", "Works at Globex", "changed"),
            Fact("Works at Globex"), [("m1", "Works at Acme")]);
        Assert.Equal((MemoryOperation.Add, null), (unknown.Operation, unknown.TargetId));
    }

    [Theory]
    [InlineData("Works at Acme Corp", "employer")]
    [InlineData("Lives in Berlin", "home")]
    [InlineData("Name is Alice", "name")]
    [InlineData("Is in the billing team", "team")]
    [InlineData("Favorite color is blue", "attr:favorite color")]
    [InlineData("Uses Stripe", null)]
    public void Single_valued_predicates(string text, string? key) => Assert.Equal(key, ConsolidationRules.SingleValuedKey(text));

    [Theory]
    [InlineData("m1")]
    [InlineData(null)]
    public void A_noop_on_another_value_of_a_single_valued_attribute_becomes_an_update_of_it(string? target)
    {
        var (decision, correction) = ConsolidationRules.Guard(new MemoryDecision(MemoryOperation.Noop, target, null, "Already known."),
            Fact("Works at Globex"), [("m1", "Works at Acme"), ("m2", "Uses Stripe")]);

        Assert.Equal((MemoryOperation.Update, "m1", "Works at Globex"), (decision.Operation, decision.TargetId, decision.Text));
        Assert.NotNull(correction);
    }

    [Theory]
    [InlineData("Works at Acme", "Works at Acme Corp in the billing team")]
    [InlineData("Lives in Berlin", "Uses Stripe")]
    public void A_noop_on_a_restatement_or_an_unrelated_memory_stays_a_noop(string fact, string existing)
    {
        var (decision, correction) = ConsolidationRules.Guard(new MemoryDecision(MemoryOperation.Noop, "m1", null, "Already known."), Fact(fact), [("m1", existing)]);

        Assert.Equal((MemoryOperation.Noop, "m1"), (decision.Operation, decision.TargetId));
        Assert.Null(correction);
    }

    private static MemoryDecision DecideWith(MemoryFact fact, params (string Text, double Similarity)[] existing) =>
        ConsolidationRules.Decide(fact, [.. existing.Select((e, i) => ($"m{i + 1}", e.Text))], [.. existing.Select(e => e.Similarity)]);

    [Theory]
    [InlineData("Is vegan", "Is vegetarian")]
    [InlineData("Eats meat", "Is vegetarian")]
    [InlineData("Prefers to be called Rob", "Prefers to be called Robert")]
    [InlineData("Is 40 years old", "Is 39 years old")]
    [InlineData("Is married", "Is single")]
    [InlineData("Has three kids", "Has two kids")]
    [InlineData("Favourite food is ramen", "Favourite food is sushi")]
    public void Another_value_of_a_single_valued_attribute_updates_it(string fact, string existing)
    {
        var decision = Decide(Fact(fact), "Uses Stripe", existing);

        Assert.Equal((MemoryOperation.Update, "m2", fact), (decision.Operation, decision.TargetId, decision.Text));
    }

    [Theory]
    [InlineData("Doesn't drink alcohol", "Drinks alcohol")]
    [InlineData("Likes cilantro", "Doesn't like cilantro")]
    public void A_denial_of_a_remembered_fact_replaces_it(string fact, string existing) =>
        Assert.Equal((MemoryOperation.Update, "m1"), (Decide(Fact(fact), existing).Operation, Decide(Fact(fact), existing).TargetId));

    [Theory]
    [InlineData("Has a sister named Ana", "Has a brother named Tom")]
    [InlineData("Has a cat named Luna", "Has a cat named Tom")]
    [InlineData("Prefers to be called Max", "Name is Maximilian")]
    [InlineData("Favourite food is pizza", "Favourite colour is blue")]
    [InlineData("Lives in Berlin", "Works at Acme")]
    public void A_fact_about_another_attribute_or_a_second_family_member_is_added(string fact, string existing) =>
        Assert.Equal(MemoryOperation.Add, DecideWith(Fact(fact), (existing, 0.85)).Operation);

    [Fact]
    public void A_retraction_finds_its_memory_by_attribute()
    {
        var decision = Decide(Fact("Works at", retraction: true), "Lives in Rome", "Works at Acme Corp");

        Assert.Equal((MemoryOperation.Delete, "m2"), (decision.Operation, decision.TargetId));
    }

    [Fact]
    public void A_change_of_state_replaces_the_closest_memory_with_the_same_predicate()
    {
        var emacs = new MemoryFact("Uses Emacs", MemoryType.Semantic, 0.5f, [], false, Supersedes: true);

        var decision = DecideWith(emacs, ("Uses Stripe", 0.33), ("Uses Vim", 0.56), ("Plays chess", 0.0));
        Assert.Equal((MemoryOperation.Update, "m2"), (decision.Operation, decision.TargetId));
        // Without the cue, tools are many: another one is added.
        Assert.Equal(MemoryOperation.Add, DecideWith(emacs with { Supersedes = false }, ("Uses Vim", 0.56)).Operation);
    }

    [Fact]
    public void A_paraphrase_is_a_noop_but_a_close_fact_naming_something_else_is_not()
    {
        Assert.Equal((MemoryOperation.Noop, "m1"), (DecideWith(Fact("Has a dog called Rex"), ("Has a dog named Rex", 0.98)).Operation, "m1"));
        Assert.Equal(MemoryOperation.Add, DecideWith(Fact("Has a dog called Max"), ("Has a dog named Rex", 0.93)).Operation);
    }

    [Theory]
    [InlineData("Is vegetarian", "diet", true)]
    [InlineData("Doesn't eat meat", "diet", true)]
    [InlineData("Prefers to be called Sam", "preferred name", true)]
    [InlineData("Has a sister named Ana", "family:sister", false)]
    [InlineData("Doesn't drink coffee", "verb:drink", false)]
    public void The_attribute_model(string text, string key, bool singleValued)
    {
        var attribute = MemoryAttributes.Of(text);

        Assert.NotNull(attribute);
        Assert.Equal((key, singleValued), (attribute.Key, attribute.SingleValued));
    }
}
