using System.Net;

namespace AspireAi.Tests.Web;

// With the Api gone after sign-in, every page built on it still answers: the page, with a notice saying to try again,
// never a 500, and a form post comes back to its page instead of failing.
public sealed class ApiOutagePagesTests
{
    [Fact]
    public async Task Documents_memories_and_admin_job_pages_show_a_notice_when_the_api_is_down()
    {
        var fake = await FakeApi.StartAsync();
        var running = true;
        try
        {
            // The same retries as in production (that a refused connection is retried is the resilience tests' business),
            // only closer together, so that seven pages do not each wait out ~10 s of backoff.
            await using var web = new WebAppFactory(fake.BaseAddress, new Dictionary<string, string?>
            {
                ["Resilience:standard:Retry:Delay"] = "00:00:00.050",
            });
            using var browser = new WebBrowser(web.Start());
            var admin = fake.CreateUser();
            admin.Role = "admin";
            await browser.SignInOrFailAsync(admin);
            var uploadToken = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/"));

            running = false;
            await fake.DisposeAsync();

            foreach (var path in new[] { "/documents", $"/documents/{Guid.NewGuid()}", "/memories", "/admin/jobs", "/admin/jobs?status=dead", "/admin/jobs/42", "/admin/memories" })
            {
                using var response = await browser.Http.GetAsync(path);
                var html = await response.Content.ReadAsStringAsync();
                Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {html}");
                Assert.Contains("data-testid=\"error\"", html, StringComparison.Ordinal);
            }

            // An upload with the Api down comes back to the documents page, which says what happened.
            using var form = new MultipartFormDataContent
            {
                { new StringContent(uploadToken), "__RequestVerificationToken" },
                { new ByteArrayContent("Some notes."u8.ToArray()), "file", "notes.txt" },
            };
            using var upload = await browser.Http.PostAsync("/app/documents", form);
            Assert.Equal(HttpStatusCode.SeeOther, upload.StatusCode);
            Assert.Equal("/documents", browser.LocationOf(upload));
            var after = await browser.GetPageAsync("/documents");
            Assert.Contains("data-testid=\"upload-error\"", after, StringComparison.Ordinal);
        }
        finally
        {
            if (running)
            {
                await fake.DisposeAsync();
            }
        }
    }
}
