using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Microsoft.Playwright;

namespace AspireAi.Tests.EndToEnd;

/// <summary>
/// The whole stack from a browser: Debian's Chromium driven by Playwright against the Web of the real app model,
/// started once for these tests with Aspire.Hosting.Testing.
/// </summary>
[Collection(EndToEndCollection.Name)]
public sealed class BrowserTests(AspireStackFixture fixture) : IClassFixture<AspireStackFixture>
{
    // Flags that let Chromium run headless as root on a machine without outside network.
    internal static readonly string[] ChromiumArgs =
    [
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ];

    [Fact]
    public async Task A_new_user_registers_chats_through_the_Web_sees_the_answer_stream_stops_a_long_one_and_is_remembered()
    {
        var host = fixture.Stack;
        var (email, password, token) = await RegisterAsync(host);

        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await SignInAsync(browser, host, email, password);
        var console = new List<string>();
        page.Console += (_, m) => { lock (console) { console.Add($"{m.Type}: {m.Text}"); } };
        page.PageError += (_, e) => { lock (console) { console.Add($"pageerror: {e}"); } };
        await page.GetByTestId("new-conversation").ClickAsync();
        await page.GetByTestId("chat-page").WaitForAsync();

        // The answer grows while it streams, then completes with the model that produced it.
        await page.GetByTestId("message-input").FillAsync("Tell me about lighthouses and the people who kept them.");
        await page.GetByTestId("send").ClickAsync();
        var answer = page.GetByTestId("assistant-message").Last;
        var lengths = new List<int>();
        for (var i = 0; i < 40 && await answer.GetAttributeAsync("data-status") != "complete"; i++)
        {
            lengths.Add((await answer.GetByTestId("message-content").InnerTextAsync()).Length);
            await Task.Delay(100);
        }
        await Assertions.Expect(answer).ToHaveAttributeAsync("data-status", "complete");
        Assert.True(lengths.Where(l => l > 0).Distinct().Count() >= 3, $"expected the text to grow in steps, saw lengths {string.Join(",", lengths)}");
        await Assertions.Expect(answer.GetByTestId("model-badge")).ToContainTextAsync("offline-");

        // Stop a long answer once it has started: the partial answer stays, marked as stopped.
        await page.GetByTestId("message-input").FillAsync("Write a very long essay about the history of the sea, with many details.");
        await page.GetByTestId("send").ClickAsync();
        // The placeholder arrives with the circuit's next render: until then .Last would still be the first answer.
        await Assertions.Expect(page.GetByTestId("assistant-message")).ToHaveCountAsync(2);
        var longAnswer = page.GetByTestId("assistant-message").Last;
        await Assertions.Expect(longAnswer.GetByTestId("message-content")).Not.ToBeEmptyAsync();
        await page.GetByTestId("stop").ClickAsync();
        try
        {
            await Assertions.Expect(longAnswer).ToHaveAttributeAsync("data-status", "cancelled");
        }
        catch (PlaywrightException ex)
        {
            // What the page said is the first thing anyone debugging this will want.
            throw new Xunit.Sdk.XunitException($"{ex.Message}\nbrowser console:\n{string.Join('\n', console)}\npage:\n{await page.ContentAsync()}");
        }
        var partial = await longAnswer.GetByTestId("message-content").InnerTextAsync();
        Assert.False(string.IsNullOrWhiteSpace(partial));

        // After a reload the history shows the stored state: the first answer complete, the second stopped. The Api
        // learns of the stop when the proxied connection closes and stores it a moment later, so a reload right
        // after the click may still show the answer streaming: reload until the stored state arrives.
        var stored = page.GetByTestId("assistant-message");
        for (var attempt = 0; attempt < 50; attempt++)
        {
            await page.ReloadAsync();
            if (await stored.Last.GetAttributeAsync("data-status") != "streaming")
            {
                break;
            }
            await Task.Delay(200);
        }
        await Assertions.Expect(stored).ToHaveCountAsync(2);
        await Assertions.Expect(stored.First).ToHaveAttributeAsync("data-status", "complete");
        await Assertions.Expect(stored.Last).ToHaveAttributeAsync("data-status", "cancelled");

        // Something about themselves: the Workers extract it, and the Api then lists it among the user's memories.
        await page.GetByTestId("message-input").FillAsync("I just joined Initech as a site reliability engineer.");
        await page.GetByTestId("send").ClickAsync();
        await Assertions.Expect(page.GetByTestId("assistant-message").Last).ToHaveAttributeAsync("data-status", "complete");
        using var api = new HttpClient { BaseAddress = host.ApiUrl };
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", token);
        var texts = new List<string>();
        for (var attempt = 0; attempt < 60 && !texts.Any(t => t.Contains("Initech", StringComparison.Ordinal)); attempt++)
        {
            await Task.Delay(500);
            using var memories = JsonDocument.Parse(await api.GetStringAsync("/v1/memories"));
            texts = [.. memories.RootElement.GetProperty("items").EnumerateArray().Select(m => m.GetProperty("text").GetString() ?? "")];
        }
        Assert.Contains(texts, t => t.Contains("Initech", StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_admin_uploads_a_document_follows_a_cited_answer_to_the_passage_sees_what_is_remembered_and_the_jobs_behind_it()
    {
        var host = fixture.Stack;
        using var playwright = await Playwright.CreateAsync();
        await using var browser = await LaunchAsync(playwright);
        var page = await SignInAsAdminAsync(browser, host);

        // Upload a file through the documents page; it refreshes itself until the Workers have ingested it.
        var project = $"Heron{Guid.NewGuid().ToString("N")[..6]}";
        var code = $"K{Guid.NewGuid().ToString("N")[..8].ToUpperInvariant()}";
        await page.GetByTestId("nav-documents").ClickAsync();
        await page.GetByTestId("upload-file").SetInputFilesAsync(new FilePayload
        {
            Name = "launch-handbook.md",
            MimeType = "text/markdown",
            Buffer = System.Text.Encoding.UTF8.GetBytes($"""
                # Overview

                This handbook describes the launch procedures of several projects. Every project has its own checklist.

                # Project {project}

                The launch code for project {project} is {code}. It must be entered twice before the countdown starts.
                """),
        });
        await page.GetByTestId("upload-submit").ClickAsync();
        var uploaded = page.GetByTestId("document-item").Filter(new() { HasText = "launch-handbook" });
        await Assertions.Expect(uploaded.GetByTestId("document-status")).ToHaveAttributeAsync("data-status", "ready", new() { Timeout = 60_000 });

        // Ask about it in a new conversation: the answer cites the document, and the citation opens the passage.
        await page.GetByTestId("nav-conversations").ClickAsync();
        await page.GetByTestId("new-conversation").ClickAsync();
        await page.GetByTestId("message-input").FillAsync($"What is the launch code for project {project}?");
        await page.GetByTestId("send").ClickAsync();
        var answer = page.GetByTestId("assistant-message").Last;
        await Assertions.Expect(answer).ToHaveAttributeAsync("data-status", "complete");
        await Assertions.Expect(answer.GetByTestId("message-content")).ToContainTextAsync(code);
        await Assertions.Expect(answer.GetByTestId("citation-link").First).ToHaveAttributeAsync("href", new System.Text.RegularExpressions.Regex("^documents/[0-9a-f-]{36}/chunks/[0-9a-f-]{36}$"));
        await answer.GetByTestId("citation-ref").First.ClickAsync();
        await Assertions.Expect(page.GetByTestId("chunk-text")).ToContainTextAsync(code);
        await page.GoBackAsync();

        // Tell it something about yourself: once the Workers have extracted it, the panel beside the chat shows it,
        // without a reload (the page re-reads the panel after an answer).
        await page.EvaluateAsync("window.samePage = true");
        await page.GetByTestId("message-input").FillAsync("I just joined Globex as a platform engineer.");
        await page.GetByTestId("send").ClickAsync();
        await Assertions.Expect(page.GetByTestId("assistant-message").Last).ToHaveAttributeAsync("data-status", "complete");
        var remembered = page.GetByTestId("memory-panel").GetByTestId("memory-text").Filter(new() { HasText = "Globex" });
        await Assertions.Expect(remembered.First).ToBeVisibleAsync(new() { Timeout = 25_000 });
        Assert.True(await page.EvaluateAsync<bool>("window.samePage === true"), "the page was reloaded");

        // The operator's view of the work behind it: the extraction and ingestion jobs, succeeded.
        await page.GetByTestId("nav-admin-jobs").ClickAsync();
        await page.GotoAsync("/admin/jobs?status=succeeded&type=memory.extract");
        await Assertions.Expect(page.GetByTestId("job-row").First).ToHaveAttributeAsync("data-job-status", "succeeded");
        // With script the live list replaces the server-rendered one (still in the page, hidden) and re-renders as jobs
        // change, so a link found a moment ago may be gone by the click: follow the shown link's address instead.
        var href = await page.Locator("[data-testid=job-link]:visible").First.GetAttributeAsync("href");
        Assert.NotNull(href);
        await page.GotoAsync(href);
        await Assertions.Expect(page.GetByText("memory.extract").First).ToBeVisibleAsync();
    }

    internal static Task<IBrowser> LaunchAsync(IPlaywright playwright) => playwright.Chromium.LaunchAsync(new BrowserTypeLaunchOptions
    {
        ExecutablePath = "/usr/bin/chromium",
        Headless = true,
        Args = ChromiumArgs,
    });

    // The development administrator the migrator seeds.
    private static Task<IPage> SignInAsAdminAsync(IBrowser browser, AspireStack host) =>
        SignInAsync(browser, host, "admin@aspireai.local", "aspireai-admin-dev");

    // Registration is open in Development; returns the new user's credentials and an access token for the Api.
    private static async Task<(string Email, string Password, string AccessToken)> RegisterAsync(AspireStack host)
    {
        using var api = new HttpClient { BaseAddress = host.ApiUrl };
        var email = $"e2e-{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery staple";
        using (var registered = await api.PostAsJsonAsync("/v1/auth/register", new { email, password, displayName = "End To End" }))
        {
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        }
        using var token = await api.PostAsJsonAsync("/v1/auth/token", new { email, password });
        Assert.True(token.IsSuccessStatusCode, await token.Content.ReadAsStringAsync());
        using var body = JsonDocument.Parse(await token.Content.ReadAsStringAsync());
        return (email, password, body.RootElement.GetProperty("accessToken").GetString()!);
    }

    // Signs in through the Web's form and waits for the signed-in header.
    private static async Task<IPage> SignInAsync(IBrowser browser, AspireStack host, string email, string password)
    {
        var page = await browser.NewPageAsync(new BrowserNewPageOptions { BaseURL = host.WebUrl.ToString() });
        page.SetDefaultTimeout(30_000);
        await page.GotoAsync("/signin");
        await page.GetByTestId("signin-email").FillAsync(email);
        await page.GetByTestId("signin-password").FillAsync(password);
        await page.GetByTestId("signin-submit").ClickAsync();
        await page.GetByTestId("nav-documents").WaitForAsync();
        return page;
    }
}

/// <summary>One app model for the browser tests; slowed down so streaming is visible and a long answer can be stopped.</summary>
public sealed class AspireStackFixture : IAsyncLifetime
{
    private AspireStack? _stack;

    public AspireStack Stack => _stack ?? throw new InvalidOperationException("The stack is not started.");

    public async Task InitializeAsync() =>
        _stack = await AspireStack.StartAsync(new Dictionary<string, string> { ["Llm:Offline:TokenDelayMs"] = "60" });

    public async Task DisposeAsync()
    {
        if (_stack is not null)
        {
            await _stack.DisposeAsync();
        }
    }
}

/// <summary>Stacks of whole processes are heavy on two cores: their tests run one at a time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class EndToEndCollection
{
    public const string Name = "end-to-end";
}
