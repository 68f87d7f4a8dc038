using System.Text.Json.Nodes;
using AspireAi.Core.Memory;

namespace AspireAi.Tests.Memory;

public sealed class JsonRepairTests
{
    private static JsonRepairResult Repair(string text)
    {
        Assert.True(JsonRepair.TryParse(text, out var result, out var error), error);
        return result;
    }

    [Fact]
    public void Valid_json_is_taken_as_it_is()
    {
        var result = Repair("""{"facts": []}""");

        Assert.False(result.Repaired);
        Assert.False(result.Truncated);
    }

    [Theory]
    [InlineData("```json\n{\"facts\": [{\"text\": \"Uses Go\"}]}\n```")]
    [InlineData("Here you go:\n```\n{\"facts\": [{\"text\": \"Uses Go\"}]}\n```\nAnything else?")]
    [InlineData("Sure! {\"facts\": [{\"text\": \"Uses Go\"}]} Hope that helps.")]
    [InlineData("{\"facts\": [{\"text\": \"Uses Go\",},],}")]
    [InlineData("{'facts': [{'text': 'Uses Go'}]}")]
    [InlineData("{facts: [{text: \"Uses Go\"}]}")]
    [InlineData("{\"facts\": [{\"text\": \"Uses Go\"} // the only one\n]}")]
    public void Fences_prose_trailing_commas_single_quotes_bare_keys_and_comments_are_repaired(string text)
    {
        var result = Repair(text);

        Assert.True(result.Repaired);
        Assert.Equal("Uses Go", result.Value["facts"]![0]!["text"]!.GetValue<string>());
    }

    [Fact]
    public void Python_literals_and_escaped_single_quotes_are_repaired()
    {
        var result = Repair("{'text': 'It\\'s \"fine\"', 'retraction': False, 'scope': None}");

        Assert.Equal("It's \"fine\"", result.Value["text"]!.GetValue<string>());
        Assert.False(result.Value["retraction"]!.GetValue<bool>());
        Assert.Null(result.Value["scope"]);
    }

    [Fact]
    public void A_truncated_array_keeps_the_complete_elements_and_drops_a_cut_string()
    {
        var result = Repair("""{"facts": [{"text": "Works at Acme", "type": "semantic"}, {"text": "Uses Stri""");

        Assert.True(result.Truncated);
        var facts = result.Value["facts"]!.AsArray();
        var only = Assert.Single(facts);
        Assert.Equal("Works at Acme", only!["text"]!.GetValue<string>());
    }

    [Theory]
    [InlineData("""{"facts": [{"text": "Works at Acme", "type": """)]
    [InlineData("""{"facts": [{"text": "Works at Acme", "type""")]
    [InlineData("""{"facts": [{"text": "Works at Acme",""")]
    public void A_dangling_key_or_comma_is_dropped(string text)
    {
        var result = Repair(text);

        Assert.True(result.Truncated);
        Assert.Equal("Works at Acme", result.Value["facts"]![0]!["text"]!.GetValue<string>());
        Assert.Null(result.Value["facts"]![0]!["type"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("I could not find any facts.")]
    public void Text_without_json_is_an_error(string text)
    {
        Assert.False(JsonRepair.TryParse(text, out _, out var error));
        Assert.False(string.IsNullOrEmpty(error));
    }

    [Fact]
    public void Facts_are_read_leniently_but_checked_against_the_schema()
    {
        var parsed = MemorySchemas.ReadFacts(Repair("""
            {"facts": [
              {"text": "Uses Go", "type": "Semantic", "importance": "0.7", "entities": ["Go"]},
              {"text": "", "type": "semantic"},
              {"text": "Visited Rome", "type": "memory"}
            ]}
            """));

        var fact = Assert.Single(parsed.Facts!);
        Assert.Equal(("Uses Go", MemoryType.Semantic, 0.7f), (fact.Text, fact.Type, fact.Importance));
        Assert.Equal("Go", Assert.Single(fact.Entities).Name);
        Assert.Equal(2, parsed.Rejected.Count);
    }

    [Fact]
    public void In_a_truncated_answer_an_incomplete_fact_is_rejected_rather_than_completed()
    {
        // The cut fact might have been a retraction: guessing "retraction: false" could store what the user asked to forget.
        var parsed = MemorySchemas.ReadFacts(Repair(
            "{\"facts\": [{\"text\": \"Uses Go\", \"type\": \"semantic\", \"importance\": 0.5, \"entities\": [], \"scope\": \"user\", \"retraction\": false}, "
            + "{\"text\": \"Uses Stripe\", \"type\": \"semantic\", \"importance\": 0.5"));

        Assert.Equal("Uses Go", Assert.Single(parsed.Facts!).Text);
        Assert.Single(parsed.Rejected);
    }

    [Fact]
    public void Decisions_accept_mem0_style_names()
    {
        var decision = MemorySchemas.ReadDecision(Repair("""{"event": "none", "targetId": 3, "text": "", "reason": "known"}"""), out var errors);

        Assert.Empty(errors);
        Assert.Equal(MemoryOperation.Noop, decision!.Operation);
        Assert.Equal("3", decision.TargetId);
    }

    [Fact]
    public void Offline_answers_round_trip_through_the_schema()
    {
        var json = new JsonObject { ["facts"] = new JsonArray(MemorySchemas.ToJson(new MemoryFact("Uses Go", MemoryType.Semantic, 0.6f, [new("Go", "technology")], false))) };

        var parsed = MemorySchemas.ReadFacts(Repair(json.ToJsonString()));

        Assert.Empty(parsed.Rejected);
        Assert.Equal("Uses Go", Assert.Single(parsed.Facts!).Text);
    }
}
