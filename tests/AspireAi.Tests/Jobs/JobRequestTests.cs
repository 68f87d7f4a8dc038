using System.Text.Json;
using AspireAi.Core.Jobs;

namespace AspireAi.Tests.Jobs;

/// <summary>What a job request may hold: only what PostgreSQL stores (checked before the insert, not by its error).</summary>
public sealed class JobRequestTests
{
    [Theory]
    [InlineData("""{"text":"a\u0000b"}""", "$.text")]
    [InlineData("""{"list":[1,{"a\u0000":true}]}""", "$.list[1]")]
    [InlineData("""{"s":"\ud800"}""", "$.s")]
    [InlineData("""{"n":1e1000000}""", "$.n")]
    [InlineData("""{"n":-1e309}""", "$.n")]
    [InlineData("""{"n":0e-20000}""", "$.n")]
    [InlineData("""[1e1001]""", "$[0]")]
    public void A_payload_postgres_cannot_store_is_refused_naming_where(string json, string path)
    {
        var problem = JobRequest.FindPayloadProblem(JsonElement.Parse(json));
        Assert.NotNull(problem);
        Assert.Contains($" {path} ", problem, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("""{"text":"tab\tand \u0001 and \ud83d\ude00","big":1.7976931348623157e308,"small":1e-300,"zero":0e-1000,"int":12345678901234567890}""")]
    [InlineData("""["", null, true, -0.0, 1E+2]""")]
    public void A_payload_postgres_can_store_is_accepted(string json) =>
        Assert.Null(JobRequest.FindPayloadProblem(JsonElement.Parse(json)));

    [Fact]
    public void A_number_longer_than_the_limit_is_refused_even_when_it_is_a_small_double() =>
        Assert.NotNull(JobRequest.FindPayloadProblem(JsonElement.Parse("1." + new string('0', JobRequest.MaxNumberLength))));

    [Fact]
    public void A_dedupe_key_with_control_characters_or_lone_surrogates_is_refused()
    {
        // Built in code rather than as theory data: test discovery does not carry NUL or lone surrogates intact.
        foreach (var key in new[] { "a\0b", "line\nbreak", "del\u007f", "lone " + (char)0xD800 + " surrogate", "x" + (char)0xDC00 })
        {
            Assert.NotNull(JobRequest.FindDedupeKeyProblem(key));
            var request = new JobRequest("test.key") { DedupeKey = key };
            Assert.Equal(nameof(JobRequest.DedupeKey), Assert.Throws<ArgumentException>(request.Validate).ParamName);
        }
        Assert.Null(JobRequest.FindDedupeKeyProblem("document:42 \ud83d\ude00 ü"));
    }

    [Fact]
    public void An_unstorable_payload_is_refused_before_the_insert() =>
        Assert.Equal(nameof(JobRequest.Payload),
            Assert.Throws<ArgumentException>(new JobRequest("test.payload", JsonElement.Parse("""{"a":"\u0000"}""")).Validate).ParamName);

    [Theory]
    [InlineData("memory.extract", true)]
    [InlineData("memory.extract\n", false)] // .NET's $ would match before the newline; the table's CHECK would not
    [InlineData("Upper", false)]
    public void Job_types_match_the_tables_check(string type, bool valid) => Assert.Equal(valid, JobRequest.IsValidType(type));
}
