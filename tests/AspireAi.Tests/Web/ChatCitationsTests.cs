using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Documents;

namespace AspireAi.Tests.Web;

/// <summary>
/// Citations in the chat pages, against the real Api: a stored answer lists its sources as links to the cited
/// chunks, its [Sn] markers link to the same chunks, and a document title is only ever text.
/// </summary>
public sealed partial class ChatCitationsTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task A_stored_answer_lists_its_sources_and_links_its_markers_to_the_cited_chunks_with_the_title_encoded()
    {
        var (browser, api, _) = await stack.SignInAsync();
        var project = DocumentsTestData.Unique("PRJ");
        var code = DocumentsTestData.Unique("CODE");
        const string title = "<script>alert('cited')</script> Launch & procedures";
        var document = await DocumentsTestData.IngestTextAsync(api, title,
            $"The launch code for project {project} is {code}. It must be entered twice before the countdown starts.");
        var documentId = document.GetProperty("id").GetGuid();
        var conversation = await ChatTestData.CreateConversationAsync(api);
        var reply = await AskAsync(api, conversation, $"What is the launch code for project {project}?");
        var citations = reply.GetProperty("citations").EnumerateArray()
            .Select(c => (DocumentId: c.GetProperty("documentId").GetGuid(), ChunkId: c.GetProperty("chunkId").GetGuid())).ToList();
        Assert.Equal(documentId, citations[0].DocumentId);
        Assert.Contains("[S1]", reply.GetProperty("content").GetString(), StringComparison.Ordinal);
        var target = $"documents/{documentId}/chunks/{citations[0].ChunkId}";

        var html = await browser.GetPageAsync($"/c/{conversation}");
        var answer = Article(html, reply.GetProperty("messageId").GetGuid());

        // The list: one numbered entry per citation, in order, each linking to its chunk.
        var entries = CitationEntry().Matches(Section(answer, "message-sources"));
        Assert.Equal(
            citations.Select((c, i) => ((i + 1).ToString(System.Globalization.CultureInfo.InvariantCulture), $"documents/{c.DocumentId}/chunks/{c.ChunkId}")),
            entries.Select(m => (m.Groups["n"].Value, m.Groups["href"].Value)));
        Assert.Equal("&lt;script&gt;alert(&#x27;cited&#x27;)&lt;/script&gt; Launch &amp; procedures", entries[0].Groups["title"].Value);
        // The marker in the text: the same target, numbered like the list.
        var marker = InlineCitation().Match(Section(answer, "message-content"));
        Assert.True(marker.Success, answer);
        Assert.Equal((target, "1"), (marker.Groups["href"].Value, marker.Groups["n"].Value));
        Assert.DoesNotContain("[S1]", Section(answer, "message-content"), StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        // The question carries no sources.
        Assert.DoesNotContain("message-sources", Article(html, reply.GetProperty("userMessageId").GetGuid()), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_answer_without_citations_has_no_sources_and_its_markers_stay_text()
    {
        var (browser, api, _) = await stack.SignInAsync();
        var conversation = await ChatTestData.CreateConversationAsync(api);
        var reply = await AskAsync(api, conversation, "Hello there [S1]");

        var html = await browser.GetPageAsync($"/c/{conversation}");

        Assert.Empty(reply.GetProperty("citations").EnumerateArray());
        Assert.DoesNotContain("data-testid=\"message-sources\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("citation-ref", html, StringComparison.Ordinal);
        Assert.Contains("Hello there [S1]", html, StringComparison.Ordinal);
    }

    private static async Task<JsonElement> AskAsync(HttpClient api, Guid conversation, string question)
    {
        using var response = await api.SendAsync(ChatTestData.SendRequest(conversation, new { content = question }, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static string Article(string html, Guid messageId)
    {
        var match = Regex.Match(html, $"<article[^>]*data-message-id=\"{messageId}\"[^>]*>(?<body>.*?)</article>", RegexOptions.Singleline);
        Assert.True(match.Success, $"No message {messageId} on the page.");
        return match.Groups["body"].Value;
    }

    // The element with the data-testid up to the end of its kind of element (no nesting of the same tag inside).
    private static string Section(string html, string testId)
    {
        var match = Regex.Match(html, $"<(?<tag>\\w+)[^>]*data-testid=\"{testId}\"[^>]*>(?<body>.*?)</\\k<tag>>", RegexOptions.Singleline);
        Assert.True(match.Success, $"No {testId} in {html}");
        return match.Groups["body"].Value;
    }

    [GeneratedRegex("<li data-testid=\"citation\" data-citation=\"(?<n>\\d+)\">\\s*<span class=\"citation-number\">\\[\\k<n>\\]</span>\\s*<a href=\"(?<href>[^\"]*)\" data-testid=\"citation-link\">(?<title>[^<]*)</a>")]
    private static partial Regex CitationEntry();

    [GeneratedRegex("<a href=\"(?<href>[^\"]*)\"[^>]*class=\"citation-ref\"[^>]*data-citation=\"(?<n>\\d+)\"[^>]*>\\[\\k<n>\\]</a>")]
    private static partial Regex InlineCitation();
}
