using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Jobs;
using AspireAi.Tests.Memory;
using Microsoft.Playwright;

namespace AspireAi.Tests.Web;

/// <summary>
/// The pages that update themselves, in Debian's Chromium against the real Api on the shared Postgres and Redis: the
/// memory panel hears the Workers' extraction through the Api's event stream, the jobs page reads the queues again.
/// A value set on <c>window</c> before the change and still there after it shows that the page was not reloaded.
/// </summary>
public sealed class LivePagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    private const string Marker = "window.__aspireAiNotReloaded";

    [Fact]
    public async Task The_memory_panel_shows_what_an_answer_taught_and_drops_a_memory_deleted_elsewhere_without_a_reload()
    {
        var (_, api, user) = await stack.SignInAsync();
        var id = await ChatTestData.CreateConversationAsync(api);
        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, user.Email, user.Password);
        await LiveBrowser.OpenChatAsync(page, id.ToString());
        var panel = page.GetByTestId("memory-panel-live");
        await Assertions.Expect(panel).ToHaveAttributeAsync("data-mode", "stream");
        await Assertions.Expect(panel.GetByTestId("memory-panel-empty")).ToBeVisibleAsync();
        await page.EvaluateAsync($"() => {Marker} = true");

        await page.GetByTestId("message-input").FillAsync("I live in Lisbon and I use Rust.");
        await page.GetByTestId("send").ClickAsync();
        // Generous: the first answer of a process loads the embedding model, and the machine is shared.
        await Assertions.Expect(page.GetByTestId("assistant-message").Last).ToHaveAttributeAsync("data-status", "complete", new() { Timeout = 60_000 });
        // The Workers' extraction job, run with its real handler; its commit publishes the new memories.
        await MemoryTestData.RunExtractionsAsync(stack.Api, user.Id);
        var stored = await MemoryTestData.MemoriesAsync(stack.Api.DataSource, user.Id);
        Assert.Equal(2, stored.Count);

        var items = panel.GetByTestId("memory-item");
        await Assertions.Expect(items).ToHaveCountAsync(2, new() { Timeout = 20_000 });
        foreach (var memory in stored)
        {
            var item = panel.Locator($"[data-memory-id='{memory.Id}']");
            await Assertions.Expect(item.GetByTestId("memory-text")).ToHaveTextAsync(memory.Text);
            await Assertions.Expect(item.GetByTestId("memory-new")).ToBeVisibleAsync();
        }
        // The server-rendered list (still "Nothing yet") gave way to the live one.
        await Assertions.Expect(page.Locator(".memory-panel-static")).ToBeHiddenAsync();

        // Deleted from another device: no answer, no poll to wait for, only the pushed event.
        var gone = stored[0];
        using (var delete = await api.DeleteAsync($"/v1/memories/{gone.Id}"))
        {
            Assert.Equal(HttpStatusCode.NoContent, delete.StatusCode);
        }
        await Assertions.Expect(items).ToHaveCountAsync(1);
        await Assertions.Expect(panel.Locator($"[data-memory-id='{gone.Id}']")).ToHaveCountAsync(0);
        Assert.True(await page.EvaluateAsync<bool>($"() => {Marker} === true"), "The page was reloaded.");

        // Delete in the live panel goes to the Api like the form does.
        await panel.Locator($"[data-memory-id='{stored[1].Id}']").GetByTestId("delete-memory").ClickAsync();
        await Assertions.Expect(panel.GetByTestId("memory-panel-empty")).ToBeVisibleAsync();
        Assert.Empty(await MemoryTestData.MemoriesAsync(stack.Api.DataSource, user.Id));
    }

    [Fact]
    public async Task The_memories_page_lists_a_memory_written_elsewhere_without_a_reload_and_its_delete_button_still_posts_the_form()
    {
        var (_, api, user) = await stack.SignInAsync();
        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, user.Email, user.Password);
        await page.GotoAsync("memories");
        var list = page.GetByTestId("memories-live");
        await Assertions.Expect(list).ToHaveAttributeAsync("data-mode", "stream");
        await Assertions.Expect(list.GetByTestId("memory-list-empty")).ToBeVisibleAsync();
        await page.EvaluateAsync($"() => {Marker} = true");

        var written = await MemoryTestData.PostMemoryAsync(api, new { text = "Sings in a choir on Thursdays", infer = false });
        var id = written.GetProperty("memory").GetProperty("id").GetGuid();

        var item = list.Locator($"[data-memory-id='{id}']");
        await Assertions.Expect(item.GetByTestId("memory-text")).ToHaveTextAsync("Sings in a choir on Thursdays");
        await Assertions.Expect(page.Locator(".memory-page-static")).ToBeHiddenAsync();
        Assert.True(await page.EvaluateAsync<bool>($"() => {Marker} === true"), "The page was reloaded.");

        await item.GetByTestId("delete-memory").ClickAsync();
        await Assertions.Expect(page.GetByTestId("memory-notice")).ToBeVisibleAsync();
        await Assertions.Expect(list.Locator($"[data-memory-id='{id}']")).ToHaveCountAsync(0);
        Assert.Empty(await MemoryTestData.MemoriesAsync(stack.Api.DataSource, user.Id));
    }

    [Fact]
    public async Task The_jobs_page_shows_a_job_enqueued_after_it_opened_without_a_reload()
    {
        var (_, admin, user) = await stack.SignInAsync("admin");
        var type = JobsTestData.NewType("test.web.live");
        // Scheduled an hour ahead: no worker of another test takes them while the page watches.
        var first = await EnqueueAsync(admin, new { type, delaySeconds = 3600 });
        await using var live = await LiveBrowser.LaunchAsync();
        var page = await live.SignInAsync(stack.BaseAddress, user.Email, user.Password);
        await page.GotoAsync($"admin/jobs?type={Uri.EscapeDataString(type)}");

        var rows = page.Locator("[data-testid=jobs-live] [data-testid=job-row]");
        await Assertions.Expect(rows).ToHaveCountAsync(1);
        await Assertions.Expect(page.Locator(".jobs-static")).ToBeHiddenAsync();
        await page.EvaluateAsync($"() => {Marker} = true");

        var second = await EnqueueAsync(admin, new { type, delaySeconds = 3600 });

        // The page re-reads every Web:JobsRefreshInterval (5 s), as long as Playwright's default wait: allow a few.
        await Assertions.Expect(rows).ToHaveCountAsync(2, new() { Timeout = 20_000 });
        Assert.Equal([second.ToString(), first.ToString()],
            await rows.EvaluateAllAsync<string[]>("rows => rows.map(r => r.getAttribute('data-job-id'))"));
        await Assertions.Expect(page.Locator($"[data-testid=jobs-live] [data-job-id='{second}']")).ToHaveAttributeAsync("data-job-status", "queued");
        Assert.True(await page.EvaluateAsync<bool>($"() => {Marker} === true"), "The page was reloaded.");

        // A row button still posts the page's form: cancelling from the live list cancels that job.
        await page.Locator($"[data-testid=jobs-live] [data-job-id='{second}']").GetByTestId("cancel-job").ClickAsync();
        await Assertions.Expect(page.Locator($"[data-testid=jobs-live] [data-job-id='{second}']")).ToHaveAttributeAsync("data-job-status", "cancelled");
        Assert.Equal("cancelled", (await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/jobs/{second}")).GetProperty("job").GetProperty("status").GetString());
    }

    private static async Task<long> EnqueueAsync(HttpClient admin, object request)
    {
        using var response = await admin.PostAsJsonAsync("/v1/admin/jobs", request);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }
}
