using AspireAi.Tests.Web;
using Microsoft.AspNetCore.Mvc.Testing;

namespace AspireAi.Tests.Security;

/// <summary>Web's cookies and headers, over plain HTTP (the fixture's Kestrel) and over HTTPS (in memory).</summary>
public sealed class WebBrowserHeadersTests(WebAppFixture web) : IClassFixture<WebAppFixture>
{
    [Fact]
    public async Task Cookies_are_HttpOnly_and_SameSite_everywhere_and_Secure_when_served_over_https()
    {
        await using var factory = new WebAppFactory(web.Api.BaseAddress, new Dictionary<string, string?>());
        using var https = factory.CreateClient(new WebApplicationFactoryClientOptions
        {
            BaseAddress = new Uri("https://localhost"),
            AllowAutoRedirect = false,
            HandleCookies = false,
        });
        using var browser = web.CreateBrowser();

        using var overHttps = await https.GetAsync("/signin");
        using var overHttp = await browser.Http.GetAsync("/signin");

        var secureCookies = overHttps.Headers.GetValues("Set-Cookie").ToList();
        var plainCookies = overHttp.Headers.GetValues("Set-Cookie").ToList();
        Assert.NotEmpty(secureCookies);
        Assert.All(secureCookies, cookie =>
        {
            Assert.Contains("; secure", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("; httponly", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("; samesite=strict", cookie, StringComparison.OrdinalIgnoreCase);
        });
        Assert.All(plainCookies, cookie =>
        {
            Assert.DoesNotContain("; secure", cookie, StringComparison.OrdinalIgnoreCase);
            Assert.Contains("; httponly", cookie, StringComparison.OrdinalIgnoreCase);
        });
        Assert.Equal("DENY", overHttps.Headers.GetValues("X-Frame-Options").Single());
        Assert.Equal("same-origin", overHttps.Headers.GetValues("Referrer-Policy").Single());
    }
}
