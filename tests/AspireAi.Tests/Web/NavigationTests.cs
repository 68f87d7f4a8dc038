namespace AspireAi.Tests.Web;

// The header navigation against the real Api: the role comes from /v1/auth/me at sign-in.
public sealed class NavigationTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task Users_see_their_pages_and_only_admins_see_the_admin_pages()
    {
        var (userBrowser, _, _) = await stack.SignInAsync();
        var (adminBrowser, _, _) = await stack.SignInAsync("admin");
        using (userBrowser)
        using (adminBrowser)
        {
            var userPage = await userBrowser.GetPageAsync("/");
            var adminPage = await adminBrowser.GetPageAsync("/");

            foreach (var page in new[] { userPage, adminPage })
            {
                Assert.Contains("data-testid=\"nav-documents\"", page, StringComparison.Ordinal);
                Assert.Contains("data-testid=\"nav-memories\"", page, StringComparison.Ordinal);
            }
            Assert.DoesNotContain("data-testid=\"nav-admin-jobs\"", userPage, StringComparison.Ordinal);
            Assert.Contains("data-testid=\"nav-admin-jobs\"", adminPage, StringComparison.Ordinal);
            Assert.Contains("data-testid=\"nav-admin-memories\"", adminPage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public async Task A_user_opening_an_admin_page_is_told_it_is_not_allowed()
    {
        var (browser, _, user) = await stack.SignInAsync();
        using (browser)
        {
            using var redirect = await browser.Http.GetAsync("/admin/jobs");
            Assert.Equal(System.Net.HttpStatusCode.Redirect, redirect.StatusCode);
            var location = browser.LocationOf(redirect);
            Assert.StartsWith("/denied?returnUrl=", location, StringComparison.Ordinal);

            using var denied = await browser.Http.GetAsync(location);
            var html = await denied.Content.ReadAsStringAsync();

            Assert.Equal(System.Net.HttpStatusCode.Forbidden, denied.StatusCode);
            Assert.Contains("data-testid=\"access-denied\"", html, StringComparison.Ordinal);
            Assert.Contains(user.Email, html, StringComparison.Ordinal);
        }
    }
}
