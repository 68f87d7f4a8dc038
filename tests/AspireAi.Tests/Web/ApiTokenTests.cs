using System.Net;

namespace AspireAi.Tests.Web;

// ApiBearerTokenHandler and the session behind it, observed from the fake Api's side of the wire.
public sealed class ApiTokenTests(WebAppFixture web) : IClassFixture<WebAppFixture>
{
    [Fact]
    public async Task A_refused_access_token_is_refreshed_once_the_call_repeated_and_the_cookie_reissued()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        var first = Assert.Single(user.IssuedAccessTokens);
        var firstCookie = browser.Session;
        user.RevokedAccessTokens.Add(first);

        using var response = await browser.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal(1, user.RefreshCount);
        var second = user.IssuedAccessTokens.Last();
        Assert.Equal(
            new (string, string?)[] { ("GET /v1/conversations", first), ("POST /v1/auth/refresh", null), ("GET /v1/conversations", second) },
            user.Calls.Where(call => call.Call != "POST /v1/auth/token").Select(call => (call.Call, call.Bearer)));
        // The rotated tokens went back to the browser, so the next page uses them without refreshing again.
        Assert.NotEqual(firstCookie, browser.Session);
        await browser.GetPageAsync("/");
        Assert.Equal(1, user.RefreshCount);
        Assert.Equal(second, user.Calls.Last().Bearer);
    }

    [Fact]
    public async Task A_token_still_refused_after_the_refresh_is_not_refreshed_again_and_the_page_asks_to_sign_in()
    {
        var user = web.Api.CreateUser();
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        user.RejectAccessTokens = true;

        using var response = await browser.Http.GetAsync("/");

        Assert.Equal(1, user.RefreshCount);
        Assert.Equal(2, user.Calls.Count(call => call.Call == "GET /v1/conversations"));
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/signin?returnUrl=", browser.LocationOf(response), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_expired_access_token_is_refreshed_before_the_call()
    {
        var user = web.Api.CreateUser();
        user.AccessTokenLifetimeSeconds = 0;
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        user.AccessTokenLifetimeSeconds = 3600;

        await browser.GetPageAsync("/");

        Assert.Equal(1, user.RefreshCount);
        var list = Assert.Single(user.Calls, call => call.Call == "GET /v1/conversations");
        Assert.Equal(user.IssuedAccessTokens.Last(), list.Bearer);
    }

    [Fact]
    public async Task Concurrent_requests_of_one_user_spend_the_rotating_refresh_token_only_once()
    {
        var user = web.Api.CreateUser();
        user.AccessTokenLifetimeSeconds = 0;
        // A slow refresh keeps the others waiting behind the first.
        user.RefreshDelay = TimeSpan.FromMilliseconds(300);
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        user.AccessTokenLifetimeSeconds = 3600;

        var responses = await Task.WhenAll(Enumerable.Range(0, 6).Select(_ => browser.Http.GetAsync("/")));

        try
        {
            Assert.All(responses, response => Assert.Equal(HttpStatusCode.OK, response.StatusCode));
            Assert.Equal(1, user.RefreshCount);
            var fresh = user.IssuedAccessTokens.Last();
            Assert.All(user.Calls.Where(call => call.Call == "GET /v1/conversations"), call => Assert.Equal(fresh, call.Bearer));
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task A_refused_refresh_token_ends_the_session()
    {
        var user = web.Api.CreateUser();
        user.AccessTokenLifetimeSeconds = 0;
        using var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        // Revoked elsewhere (a sign-out in another browser, an administrator): the cookie's refresh token is dead.
        web.Api.RevokeRefreshTokens(user);

        using var response = await browser.Http.GetAsync("/");

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.StartsWith("/signin", browser.LocationOf(response), StringComparison.Ordinal);
        Assert.Null(browser.Session);
    }
}
