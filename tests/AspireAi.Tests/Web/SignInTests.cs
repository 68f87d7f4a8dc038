using System.Net;

namespace AspireAi.Tests.Web;

public sealed class SignInTests(WebAppFixture web) : IClassFixture<WebAppFixture>
{
    [Fact]
    public async Task Sign_in_stores_the_session_in_an_http_only_cookie_and_redirects_home()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();

        using var response = await browser.SignInAsync(user);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", browser.LocationOf(response));
        var setCookie = Assert.Single(response.Headers.GetValues("Set-Cookie"), c => c.StartsWith(WebBrowser.SessionCookie + "=", StringComparison.Ordinal));
        Assert.Contains("httponly", setCookie, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("samesite=lax", setCookie, StringComparison.OrdinalIgnoreCase);
        // The tokens are inside the encrypted cookie, never readable in it.
        var token = Assert.Single(user.IssuedAccessTokens);
        Assert.DoesNotContain(token, setCookie, StringComparison.Ordinal);

        // The session works: the home page lists conversations, fetched with the user's bearer token.
        var conversation = web.Api.AddConversation(user, "Trip to Lisbon");
        var home = await browser.GetPageAsync("/");
        Assert.Contains("Trip to Lisbon", home, StringComparison.Ordinal);
        Assert.Contains(user.Email, home, StringComparison.Ordinal);
        Assert.Contains(user.Calls, call => call.Call == "GET /v1/conversations" && call.Bearer == token);
        Assert.Contains($"data-conversation-id=\"{conversation.Id}\"", home, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Wrong_password_shows_the_generic_error_and_sets_no_session()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();

        using var response = await browser.SignInAsync(user.Email, "not-the-password");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("data-testid=\"error\"", html, StringComparison.Ordinal);
        Assert.Contains("Invalid email or password.", html, StringComparison.Ordinal);
        // The typed password is not sent back in the page.
        Assert.DoesNotContain("not-the-password", html, StringComparison.Ordinal);
        Assert.Null(browser.Session);
    }

    [Fact]
    public async Task Rate_limited_sign_in_shows_when_to_retry()
    {
        var user = web.Api.CreateUser();
        user.SignInRetryAfterSeconds = 42;
        using var browser = web.CreateBrowser();

        using var response = await browser.SignInAsync(user);

        var html = await response.Content.ReadAsStringAsync();
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("Too many sign-in attempts.", html, StringComparison.Ordinal);
        Assert.Contains("Try again in 42 seconds.", html, StringComparison.Ordinal);
        Assert.Null(browser.Session);
    }

    [Fact]
    public async Task Pages_need_a_session_and_sign_in_returns_to_the_page_asked_for()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Back here");
        using var browser = web.CreateBrowser();

        using var page = await browser.Http.GetAsync($"/c/{conversation.Id}");
        Assert.Equal(HttpStatusCode.Redirect, page.StatusCode);
        var signIn = browser.LocationOf(page);
        Assert.Contains($"returnUrl=%2Fc%2F{conversation.Id}", signIn, StringComparison.Ordinal);

        using var response = await browser.SignInAsync(user, signIn);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/c/{conversation.Id}", browser.LocationOf(response));
    }

    [Theory]
    [InlineData("//evil.example/x")]
    [InlineData("/\\evil.example/x")]
    [InlineData("https://evil.example/x")]
    public async Task Sign_in_never_redirects_off_site(string returnUrl)
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();

        using var response = await browser.SignInAsync(user, $"/signin?returnUrl={Uri.EscapeDataString(returnUrl)}");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/", browser.LocationOf(response));
    }

    [Fact]
    public async Task Script_endpoints_answer_401_instead_of_redirecting_without_a_session()
    {
        using var browser = web.CreateBrowser();

        using var response = await browser.Http.GetAsync("/app/conversations/x/messages/y/html");

        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    [Fact]
    public async Task Sign_out_revokes_the_refresh_token_on_the_api_and_clears_the_cookie()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/"));

        using var response = await browser.PostFormAsync("/app/account/signout", token, []);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/signin", browser.LocationOf(response));
        var logout = Assert.Single(user.Calls, call => call.Call == "POST /v1/auth/logout");
        Assert.Equal(Assert.Single(user.IssuedAccessTokens), logout.Bearer);
        Assert.StartsWith("rt-", logout.Body, StringComparison.Ordinal);
        Assert.Null(browser.Session);

        using var home = await browser.Http.GetAsync("/");
        Assert.Equal(HttpStatusCode.Redirect, home.StatusCode);
    }

    [Fact]
    public async Task Sign_out_without_the_antiforgery_token_is_refused()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);

        using var response = await browser.Http.PostAsync("/app/account/signout", new FormUrlEncodedContent([]));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(user.Calls, call => call.Call == "POST /v1/auth/logout");
        Assert.NotNull(browser.Session);
    }
}
