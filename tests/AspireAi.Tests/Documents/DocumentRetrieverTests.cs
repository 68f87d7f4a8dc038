using AspireAi.Core.Documents.Retrieval;

namespace AspireAi.Tests.Documents;

public sealed class DocumentRetrieverTests
{
    [Theory]
    [InlineData("Which inventory line holds part number P34958?", 2)]
    [InlineData("error ERR42 on start", 2)]
    [InlineData("status of order 48213", 2)]
    [InlineData("What is the maintenance schedule?", 1)]
    [InlineData("top 10 tips for 2 people", 1)]
    public void The_full_text_leg_weighs_double_for_identifier_like_queries(string query, int weight) =>
        Assert.Equal(weight, DocumentRetriever.TextLegWeight(query));
}
