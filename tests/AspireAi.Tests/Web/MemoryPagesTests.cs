using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Tests.Chat;

namespace AspireAi.Tests.Web;

// The memory panel beside the chat, the memories pages and the admin memory browser, against the real Api:
// what they show, and what the Api and Postgres hold after each form.
public sealed partial class MemoryPagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task The_chat_panel_shows_the_users_own_memories_newest_first_and_never_another_users()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var (_, otherApi, _) = await stack.SignInAsync();
        using var _otherApi = otherApi;
        var older = await CreateMemoryAsync(api, "Works at Contoso on the billing team");
        var newer = await CreateMemoryAsync(api, "Always answer with C# examples", "procedural");
        var foreign = await CreateMemoryAsync(otherApi, "Lives in Lisbon with two cats");
        var conversation = await ChatTestData.CreateConversationAsync(api, "With memories");

        var html = await browser.GetPageAsync($"/c/{conversation}");

        Assert.Contains("data-testid=\"chat-form\"", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"memory-panel\"", html, StringComparison.Ordinal);
        Assert.Contains("What I remember about you", html, StringComparison.Ordinal);
        var ids = MemoryIds(html);
        Assert.Equal(newer, ids[0]);
        Assert.Equal(older, ids[1]);
        Assert.DoesNotContain(foreign, ids);
        Assert.DoesNotContain("Lives in Lisbon", html, StringComparison.Ordinal);
        Assert.Contains("Instruction", html, StringComparison.Ordinal);
        // Each memory has Edit (coming back to this conversation) and Delete; Forget everything asks on its own page.
        Assert.Contains($"href=\"memories/{newer}/edit?returnUrl=%2Fc%2F{conversation}\" data-testid=\"edit-memory\"", html, StringComparison.Ordinal);
        Assert.Contains($"name=\"DeleteId\" value=\"{newer}\"", html, StringComparison.Ordinal);
        Assert.Contains($"href=\"memories/forget?returnUrl=%2Fc%2F{conversation}\" class=\"danger\" data-testid=\"forget-everything\"", html, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"memory-panel-all\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Editing_from_the_panel_creates_a_new_version_updated_by_the_user()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var id = await CreateMemoryAsync(api, "Prefers tea in the morning");
        var conversation = await ChatTestData.CreateConversationAsync(api);
        var editPath = $"/memories/{id}/edit?returnUrl=%2Fc%2F{conversation}";
        var form = await browser.GetPageAsync(editPath);
        Assert.Contains("Prefers tea in the morning</textarea>", form, StringComparison.Ordinal);

        using var response = await browser.PostFormAsync(editPath, WebBrowser.AntiforgeryToken(form),
        [
            new("_handler", "edit-memory"),
            new("EditText", "Prefers coffee in the morning"),
            new("EditType", "semantic"),
            new("EditImportance", "0.8"),
        ]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/c/{conversation}?memory=updated", browser.LocationOf(response));
        // An UPDATE is recorded on both versions: the one superseded and the one that replaces it.
        var history = await HistoryAsync(api, id);
        Assert.Equal(["ADD", "UPDATE", "UPDATE"], history.Select(h => h.Operation));
        Assert.All(history.Skip(1), update =>
        {
            Assert.Equal("user", update.Actor);
            Assert.Equal("Prefers tea in the morning", update.OldText);
            Assert.Equal("Prefers coffee in the morning", update.NewText);
        });
        var old = await GetMemoryAsync(api, id);
        Assert.False(old.GetProperty("isCurrent").GetBoolean());
        var current = old.GetProperty("supersededById").GetGuid();
        var now = await GetMemoryAsync(api, current);
        Assert.Equal("Prefers coffee in the morning", now.GetProperty("text").GetString());
        Assert.Equal(0.8, now.GetProperty("importance").GetDouble(), 3);

        var chat = await browser.GetPageAsync($"/c/{conversation}?memory=updated");
        Assert.Contains("data-testid=\"memory-notice\" data-notice=\"updated\"", chat, StringComparison.Ordinal);
        Assert.Equal([current], MemoryIds(chat));
        Assert.DoesNotContain("Prefers tea", chat, StringComparison.Ordinal);

        // The history page tells the same story, oldest first, with the change shown once.
        var page = await browser.GetPageAsync($"/memories/{current}/history");
        var rows = HistoryRows().Matches(page).Select(m => (m.Groups["op"].Value, m.Groups["actor"].Value)).ToList();
        Assert.Equal([("ADD", "api"), ("UPDATE", "user")], rows);
        Assert.Contains("<del data-testid=\"history-old\">Prefers tea in the morning</del>", page, StringComparison.Ordinal);
        Assert.Contains("<ins data-testid=\"history-new\">Prefers coffee in the morning</ins>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Deleting_from_the_panel_invalidates_the_memory_and_records_who_deleted_it()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var keep = await CreateMemoryAsync(api, "Has a dog named Biscuit");
        var remove = await CreateMemoryAsync(api, "Is training for a marathon");
        var conversation = await ChatTestData.CreateConversationAsync(api);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync($"/c/{conversation}"));

        using var response = await browser.PostFormAsync($"/c/{conversation}", token,
            [new("_handler", "memory-panel-delete"), new("DeleteId", remove.ToString())]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/c/{conversation}?memory=deleted", browser.LocationOf(response));
        Assert.Equal([keep], await CurrentIdsAsync(api));
        var history = await HistoryAsync(api, remove);
        Assert.Equal(("DELETE", "user"), (history[^1].Operation, history[^1].Actor));
        var chat = await browser.GetPageAsync(browser.LocationOf(response));
        Assert.Contains("data-notice=\"deleted\"", chat, StringComparison.Ordinal);
        Assert.Equal([keep], MemoryIds(chat));
        // Gone from the lists, but its history stays readable.
        var page = await browser.GetPageAsync($"/memories/{remove}/history");
        Assert.Equal([("ADD", "api"), ("DELETE", "user")],
            HistoryRows().Matches(page).Select(m => (m.Groups["op"].Value, m.Groups["actor"].Value)));
        Assert.DoesNotContain("<span data-testid=\"memory-status\">current</span>", page, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_memories_page_filters_pages_with_a_cursor_adds_and_deletes()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var created = new List<Guid>();
        for (var i = 1; i <= 21; i++)
        {
            created.Add(await CreateMemoryAsync(api, $"Fact number {i:00} about the user", i == 7 ? "procedural" : null));
        }

        // The user's own scope: shared org memories of other tests would interleave otherwise.
        var first = await browser.GetPageAsync("/memories?scope=user");
        Assert.Equal(created.AsEnumerable().Reverse().Take(20), MemoryIds(first));
        var older = OlderLink().Match(first);
        Assert.True(older.Success, "No link to older memories on a full page.");
        var second = await browser.GetPageAsync("/" + WebUtility.HtmlDecode(older.Groups["href"].Value).TrimStart('/'));
        Assert.Equal([created[0]], MemoryIds(second));
        Assert.Contains($"href=\"memories/{created[0]}/history\" data-testid=\"memory-history-link\"", second, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"newest-memories\"", second, StringComparison.Ordinal);
        Assert.DoesNotMatch(OlderLink(), second);

        var procedural = await browser.GetPageAsync("/memories?type=procedural&scope=user");
        Assert.Equal([created[6]], MemoryIds(procedural));
        Assert.Contains("<option value=\"procedural\" selected", procedural, StringComparison.Ordinal);

        // Add (stored as written), then delete, both with post/redirect/get keeping the filter.
        var token = WebBrowser.AntiforgeryToken(procedural);
        using (var added = await browser.PostFormAsync("/memories?type=procedural&scope=user", token,
            [new("_handler", "add-memory"), new("NewText", "Reply in British English"), new("NewType", "procedural")]))
        {
            Assert.Equal(HttpStatusCode.Redirect, added.StatusCode);
            Assert.Equal("/memories?type=procedural&scope=user&memory=added", browser.LocationOf(added));
        }

        var afterAdd = await browser.GetPageAsync("/memories?type=procedural&scope=user&memory=added");
        Assert.Contains("data-notice=\"added\"", afterAdd, StringComparison.Ordinal);
        var newId = MemoryIds(afterAdd)[0];
        Assert.Equal("Reply in British English", (await GetMemoryAsync(api, newId)).GetProperty("text").GetString());
        Assert.Equal("api", (await HistoryAsync(api, newId)).Single().Actor);

        using (var deleted = await browser.PostFormAsync("/memories?type=procedural&scope=user", token,
            [new("_handler", "delete-memory"), new("DeleteId", newId.ToString())]))
        {
            Assert.Equal(HttpStatusCode.Redirect, deleted.StatusCode);
            Assert.Equal("/memories?type=procedural&scope=user&memory=deleted", browser.LocationOf(deleted));
        }

        Assert.DoesNotContain(newId, await CurrentIdsAsync(api));
        var history = await HistoryAsync(api, newId);
        Assert.Equal(("DELETE", "user"), (history[^1].Operation, history[^1].Actor));
    }

    [Fact]
    public async Task Forget_everything_asks_first_then_erases_every_row_and_shows_the_counts()
    {
        var (browser, api, user) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var (_, otherApi, other) = await stack.SignInAsync();
        using var _otherApi = otherApi;
        var first = await CreateMemoryAsync(api, "Speaks Portuguese and Dutch");
        await CreateMemoryAsync(api, "Uses Neovim for everything");
        using (var put = await api.PutAsJsonAsync($"/v1/memories/{first}", new { text = "Speaks Portuguese, Dutch and German" }))
        {
            put.EnsureSuccessStatusCode();
        }

        await CreateMemoryAsync(otherApi, "Keeps bees on the roof");
        var conversation = await ChatTestData.CreateConversationAsync(api);
        var rows = await CountAsync("SELECT count(*) FROM memories WHERE user_id = $1", user.Id);
        Assert.Equal(3, rows);

        // The panel only links to the confirmation; opening it erases nothing and says what would go.
        var history = await CountAsync("SELECT count(*) FROM memory_history WHERE owner_user_id = $1", user.Id);
        var chat = await browser.GetPageAsync($"/c/{conversation}");
        Assert.DoesNotContain("confirm-forget", chat, StringComparison.Ordinal);
        var confirm = await browser.GetPageAsync($"/memories/forget?returnUrl=%2Fc%2F{conversation}");
        Assert.Contains("<strong data-testid=\"forget-count\">2</strong>", confirm, StringComparison.Ordinal);
        Assert.Contains("every earlier version", confirm, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"confirm-forget\"", confirm, StringComparison.Ordinal);
        Assert.Equal(rows, await CountAsync("SELECT count(*) FROM memories WHERE user_id = $1", user.Id));

        using var response = await browser.PostFormAsync($"/memories/forget?returnUrl=%2Fc%2F{conversation}",
            WebBrowser.AntiforgeryToken(confirm), [new("_handler", "forget-everything")]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        var back = browser.LocationOf(response);
        Assert.StartsWith($"/c/{conversation}?memory=erased&memories=3&history=", back, StringComparison.Ordinal);
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM memories WHERE user_id = $1", user.Id));
        Assert.Equal(0, await CountAsync("SELECT count(*) FROM memory_history WHERE owner_user_id = $1", user.Id));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM memories WHERE user_id = $1", other.Id));

        var after = await browser.GetPageAsync(back);
        Assert.Contains("data-notice=\"erased\"", after, StringComparison.Ordinal);
        Assert.Contains("<strong data-testid=\"erased-memories\">3</strong>", after, StringComparison.Ordinal);
        Assert.Contains($"<strong data-testid=\"erased-history\">{history}</strong>", after, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"memory-panel-empty\"", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_export_is_a_json_attachment_of_the_users_memories_only()
    {
        var (browser, api, user) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var (_, otherApi, _) = await stack.SignInAsync();
        using var _otherApi = otherApi;
        var mine = await CreateMemoryAsync(api, "Collects vintage synthesizers");
        await CreateMemoryAsync(otherApi, "Plays the bassoon");
        var page = await browser.GetPageAsync("/memories");
        Assert.Contains("href=\"memories/export\" download data-testid=\"export-memories\"", page, StringComparison.Ordinal);

        using var response = await browser.Http.GetAsync("/memories/export");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("application/json", response.Content.Headers.ContentType?.MediaType);
        var disposition = response.Content.Headers.ContentDisposition;
        Assert.NotNull(disposition);
        Assert.Equal("attachment", disposition.DispositionType);
        Assert.Matches("^memories-\\d{8}T\\d{6}Z\\.json$", disposition.FileName!.Trim('"'));
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString() ?? "", StringComparison.Ordinal);
        var export = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(user.Id, export.GetProperty("userId").GetGuid());
        var memories = export.GetProperty("memories").EnumerateArray().ToList();
        Assert.Equal([mine], memories.Select(m => m.GetProperty("id").GetGuid()));
        Assert.DoesNotContain("bassoon", export.GetRawText(), StringComparison.Ordinal);
        Assert.Equal("ADD", export.GetProperty("history").EnumerateArray().Single().GetProperty("operation").GetString());
    }

    [Fact]
    public async Task Empty_or_overlong_text_shows_the_apis_message_and_changes_nothing()
    {
        var (browser, api, user) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var id = await CreateMemoryAsync(api, "Drives an electric car");
        var editPath = $"/memories/{id}/edit";
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync(editPath));

        using (var empty = await browser.PostFormAsync(editPath, token,
            [new("_handler", "edit-memory"), new("EditText", ""), new("EditType", "semantic"), new("EditImportance", "0.5")]))
        {
            var html = await empty.Content.ReadAsStringAsync();
            Assert.True(empty.StatusCode == HttpStatusCode.OK, html);
            Assert.Matches("data-testid=\"edit-text-error\">[^<]*(empty|required)", html);
        }

        var tooLong = new string('x', 600);
        using (var overlong = await browser.PostFormAsync(editPath, token,
            [new("_handler", "edit-memory"), new("EditText", tooLong), new("EditType", "semantic"), new("EditImportance", "0.5")]))
        {
            var html = await overlong.Content.ReadAsStringAsync();
            Assert.True(overlong.StatusCode == HttpStatusCode.OK, html);
            Assert.Contains("data-testid=\"edit-text-error\">The text is 600 characters long; a memory holds at most 500.", html, StringComparison.Ordinal);
            // What was typed stays in the box to be shortened.
            Assert.Contains(tooLong + "</textarea>", html, StringComparison.Ordinal);
        }

        using (var badImportance = await browser.PostFormAsync(editPath, token,
            [new("_handler", "edit-memory"), new("EditText", "Drives a bicycle"), new("EditType", "semantic"), new("EditImportance", "lots")]))
        {
            var html = await badImportance.Content.ReadAsStringAsync();
            Assert.Contains("data-testid=\"edit-importance-error\"", html, StringComparison.Ordinal);
        }

        using (var add = await browser.PostFormAsync("/memories", WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/memories")),
            [new("_handler", "add-memory"), new("NewText", "  "), new("NewType", "semantic")]))
        {
            var html = await add.Content.ReadAsStringAsync();
            Assert.True(add.StatusCode == HttpStatusCode.OK, html);
            Assert.Contains("data-testid=\"add-text-error\">Send the memory as text", html, StringComparison.Ordinal);
        }

        Assert.Equal("Drives an electric car", (await GetMemoryAsync(api, id)).GetProperty("text").GetString());
        Assert.Equal(["ADD"], (await HistoryAsync(api, id)).Select(h => h.Operation));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM memories WHERE user_id = $1", user.Id));
    }

    [Fact]
    public async Task Another_users_memory_is_not_found_and_stays_untouched()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var (_, ownerApi, _) = await stack.SignInAsync();
        using var _ownerApi = ownerApi;
        var theirs = await CreateMemoryAsync(ownerApi, "Is allergic to peanuts");
        await CreateMemoryAsync(api, "Likes hiking");

        foreach (var path in (string[])[$"/memories/{theirs}/edit", $"/memories/{theirs}/history"])
        {
            using var response = await browser.Http.GetAsync(path);
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.NotFound, $"{path}: {(int)response.StatusCode}");
            Assert.Contains("data-testid=\"not-found\"", html, StringComparison.Ordinal);
            Assert.DoesNotContain("peanuts", html, StringComparison.Ordinal);
        }

        using var delete = await browser.PostFormAsync("/memories", WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/memories")),
            [new("_handler", "delete-memory"), new("DeleteId", theirs.ToString())]);
        var page = await delete.Content.ReadAsStringAsync();
        Assert.True(delete.StatusCode == HttpStatusCode.OK, page);
        Assert.Contains("data-testid=\"error\"", page, StringComparison.Ordinal);
        Assert.Contains($"No memory {theirs} exists", page, StringComparison.Ordinal);
        Assert.True((await GetMemoryAsync(ownerApi, theirs)).GetProperty("isCurrent").GetBoolean());
    }

    [Fact]
    public async Task Shared_memories_are_read_only_for_users_and_a_forced_write_shows_the_apis_refusal()
    {
        var (_, adminApi, _) = await stack.SignInAsync("admin");
        using var _adminApi = adminApi;
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var text = $"The office wifi is called Harbour {Guid.NewGuid().ToString("N")[..6]}";
        var shared = await CreateMemoryAsync(adminApi, text, scope: "org");
        try
        {
            var page = await browser.GetPageAsync("/memories?scope=org");
            var item = MemoryItem(page, shared);
            Assert.Contains("data-testid=\"memory-read-only\"", item, StringComparison.Ordinal);
            Assert.DoesNotContain("delete-memory", item, StringComparison.Ordinal);
            Assert.DoesNotContain("edit-memory", item, StringComparison.Ordinal);

            using (var delete = await browser.PostFormAsync("/memories?scope=org", WebBrowser.AntiforgeryToken(page),
                [new("_handler", "delete-memory"), new("DeleteId", shared.ToString())]))
            {
                var html = await delete.Content.ReadAsStringAsync();
                Assert.True(delete.StatusCode == HttpStatusCode.OK, html);
                Assert.Contains("Only administrators delete shared", html, StringComparison.Ordinal);
            }

            var edit = await browser.GetPageAsync($"/memories/{shared}/edit");
            Assert.Contains("data-testid=\"memory-read-only\"", edit, StringComparison.Ordinal);
            using (var put = await browser.PostFormAsync($"/memories/{shared}/edit", WebBrowser.AntiforgeryToken(edit),
                [new("_handler", "edit-memory"), new("EditText", "The office wifi is called Free"), new("EditType", "semantic"), new("EditImportance", "0.5")]))
            {
                var html = await put.Content.ReadAsStringAsync();
                Assert.True(put.StatusCode == HttpStatusCode.OK, html);
                Assert.Contains("Only administrators change shared", html, StringComparison.Ordinal);
            }

            var memory = await GetMemoryAsync(adminApi, shared);
            Assert.True(memory.GetProperty("isCurrent").GetBoolean());
            Assert.Equal(text, memory.GetProperty("text").GetString());
        }
        finally
        {
            // Org memories are seen by every user of the organisation: leave none behind for other tests.
            using var cleanup = await adminApi.DeleteAsync($"/v1/memories/{shared}");
        }
    }

    [Fact]
    public async Task The_admin_browser_lists_another_users_memory_with_its_owner_and_lineage_history()
    {
        var (admin, adminApi, _) = await stack.SignInAsync("admin");
        using var _admin = admin;
        using var _adminApi = adminApi;
        var (_, api, user) = await stack.SignInAsync();
        using var _api = api;
        var original = await CreateMemoryAsync(api, "Works remotely from Porto");
        using (var put = await api.PutAsJsonAsync($"/v1/memories/{original}", new { text = "Works remotely from Braga" }))
        {
            put.EnsureSuccessStatusCode();
        }

        var current = (await GetMemoryAsync(api, original)).GetProperty("supersededById").GetGuid();

        var list = await admin.GetPageAsync($"/admin/memories?userId={user.Id}&versions=all");
        var rows = AdminRows().Matches(list).Select(m => (Guid.Parse(m.Groups["id"].Value), m.Groups["owner"].Value)).ToList();
        Assert.Equal([(current, user.Id.ToString()), (original, user.Id.ToString())], rows);
        Assert.Contains("Works remotely from Braga", list, StringComparison.Ordinal);
        Assert.Contains(">superseded</span>", list, StringComparison.Ordinal);
        Assert.Contains(">valid</span>", list, StringComparison.Ordinal);
        var currentOnly = await admin.GetPageAsync($"/admin/memories?userId={user.Id}");
        Assert.Equal([current], AdminRows().Matches(currentOnly).Select(m => Guid.Parse(m.Groups["id"].Value)));

        var detail = await admin.GetPageAsync($"/admin/memories/{original}");
        Assert.Contains(user.Id.ToString(), detail, StringComparison.Ordinal);
        Assert.Contains($"href=\"admin/memories/{current}\" data-testid=\"admin-memory-next\"", detail, StringComparison.Ordinal);
        var history = HistoryRows().Matches(detail).Select(m => (m.Groups["op"].Value, m.Groups["actor"].Value)).ToList();
        Assert.Equal([("ADD", "api"), ("UPDATE", "user"), ("UPDATE", "user")], history);
        Assert.Contains("<del data-testid=\"history-old\">Works remotely from Porto</del>", detail, StringComparison.Ordinal);

        // The owner comes from the Api's admin list only; a user's own list never names owners.
        var adminJson = await adminApi.GetFromJsonAsync<JsonElement>($"/v1/admin/memories?userId={user.Id}");
        Assert.Equal(user.Id, adminJson.GetProperty("items")[0].GetProperty("ownerUserId").GetGuid());
        var ownJson = await api.GetFromJsonAsync<JsonElement>("/v1/memories");
        Assert.False(ownJson.GetProperty("items")[0].TryGetProperty("ownerUserId", out _));

        // A user id that is not one is a message next to the field, not an Api error.
        var bad = await admin.GetPageAsync("/admin/memories?userId=someone%40example.com");
        Assert.Contains("data-testid=\"filter-user-error\"", bad, StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"admin-memory-row\"", bad, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Non_admins_get_no_data_from_the_admin_browser()
    {
        var (_, ownerApi, owner) = await stack.SignInAsync();
        using var _ownerApi = ownerApi;
        var id = await CreateMemoryAsync(ownerApi, "Keeps a diary in Esperanto");
        var (browser, _, _) = await stack.SignInAsync();
        using var _browser = browser;

        foreach (var path in (string[])[$"/admin/memories?userId={owner.Id}", $"/admin/memories/{id}"])
        {
            using var response = await browser.Http.GetAsync(path);
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode is HttpStatusCode.Redirect or HttpStatusCode.Forbidden, $"{path}: {(int)response.StatusCode}");
            Assert.DoesNotContain("Esperanto", html, StringComparison.Ordinal);
            Assert.DoesNotContain("admin-memory", html, StringComparison.Ordinal);
        }

        // The header links only administrators to the browser.
        Assert.DoesNotContain("nav-admin-memories", await browser.GetPageAsync("/memories"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Forms_without_the_antiforgery_token_are_refused_and_change_nothing()
    {
        var (browser, api, user) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var id = await CreateMemoryAsync(api, "Runs a book club on Thursdays");
        var conversation = await ChatTestData.CreateConversationAsync(api);

        (string Path, KeyValuePair<string, string>[] Fields)[] posts =
        [
            ($"/c/{conversation}", [new("_handler", "memory-panel-delete"), new("DeleteId", id.ToString())]),
            ("/memories", [new("_handler", "delete-memory"), new("DeleteId", id.ToString())]),
            ($"/memories/{id}/edit", [new("_handler", "edit-memory"), new("EditText", "Runs nothing")]),
            ("/memories/forget", [new("_handler", "forget-everything")]),
        ];
        foreach (var (path, fields) in posts)
        {
            using var response = await browser.Http.PostAsync(path, new FormUrlEncodedContent(fields));
            Assert.True(response.StatusCode == HttpStatusCode.BadRequest, $"{path}: {(int)response.StatusCode}");
        }

        Assert.Equal(["ADD"], (await HistoryAsync(api, id)).Select(h => h.Operation));
        Assert.Equal(1, await CountAsync("SELECT count(*) FROM memories WHERE user_id = $1 AND invalidated_at IS NULL", user.Id));
    }

    [Fact]
    public async Task An_api_error_or_outage_is_a_notice_never_a_500()
    {
        var (browser, _, _) = await stack.SignInAsync();
        using var _browser = browser;

        // The Api refusing a filter: its message on the page.
        var badFilter = await browser.GetPageAsync("/memories?type=opinion");
        Assert.Contains("data-testid=\"error\"", badFilter, StringComparison.Ordinal);

        // An Api without memories (404 everywhere) and then no Api at all.
        var fake = await FakeApi.StartAsync();
        var running = true;
        try
        {
            // Production's retries, closer together, so the pages after the outage do not each wait out ~10 s of backoff.
            await using var web = new WebAppFactory(fake.BaseAddress, new Dictionary<string, string?>
            {
                ["Resilience:standard:Retry:Delay"] = "00:00:00.050",
            });
            using var offline = new WebBrowser(web.Start());
            var user = fake.CreateUser();
            var conversation = fake.AddConversation(user, "Still works");
            await offline.SignInOrFailAsync(user);

            var chat = await offline.GetPageAsync($"/c/{conversation.Id}");
            Assert.Contains("data-testid=\"memory-panel-error\"", chat, StringComparison.Ordinal);
            Assert.Contains("data-testid=\"chat-form\"", chat, StringComparison.Ordinal);

            running = false;
            await fake.DisposeAsync();
            var page = await offline.GetPageAsync("/memories");
            Assert.Contains("data-testid=\"error\"", page, StringComparison.Ordinal);
            Assert.Contains("<span class=\"notice-message\">Try again in a moment.</span>", page, StringComparison.Ordinal);
            using var export = await offline.Http.GetAsync("/memories/export");
            Assert.Equal(HttpStatusCode.ServiceUnavailable, export.StatusCode);
        }
        finally
        {
            if (running)
            {
                await fake.DisposeAsync();
            }
        }
    }

    private static async Task<Guid> CreateMemoryAsync(HttpClient api, string text, string? type = null, string? scope = null)
    {
        using var response = await api.PostAsJsonAsync("/v1/memories", new { text, infer = false, type, scope });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();
        return body.GetProperty("memory").GetProperty("id").GetGuid();
    }

    private static async Task<JsonElement> GetMemoryAsync(HttpClient api, Guid id) =>
        await api.GetFromJsonAsync<JsonElement>($"/v1/memories/{id}");

    private static async Task<List<Guid>> CurrentIdsAsync(HttpClient api) =>
        [.. (await api.GetFromJsonAsync<JsonElement>("/v1/memories?scope=user,session")).GetProperty("items").EnumerateArray()
            .Select(m => m.GetProperty("id").GetGuid())];

    private static async Task<List<(string Operation, string Actor, string? OldText, string? NewText)>> HistoryAsync(HttpClient api, Guid id) =>
        [.. (await api.GetFromJsonAsync<JsonElement>($"/v1/memories/{id}/history")).GetProperty("items").EnumerateArray()
            .Select(h => (h.GetProperty("operation").GetString()!, h.GetProperty("actor").GetString()!,
                h.GetProperty("oldText").GetString(), h.GetProperty("newText").GetString()))];

    [Theory]
    [InlineData("/https://evil.example/x", "href=\"/https://evil.example/x\"")]
    [InlineData("https://evil.example/x", "href=\"/memories\"")]
    [InlineData("//evil.example/x", "href=\"/memories\"")]
    [InlineData("/javascript:alert(1)", "href=\"/javascript:alert(1)\"")]
    public async Task A_return_address_is_rendered_exactly_as_validated_so_it_never_leaves_the_site(string returnUrl, string expected)
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var _browser = browser;
        using var _api = api;
        var id = await CreateMemoryAsync(api, "Likes quiet trains");

        var forget = await browser.GetPageAsync($"/memories/forget?returnUrl={Uri.EscapeDataString(returnUrl)}");
        var edit = await browser.GetPageAsync($"/memories/{id}/edit?returnUrl={Uri.EscapeDataString(returnUrl)}");

        // A path on this site stays one: with its leading '/' trimmed, "/https://evil.example/x" became a link there.
        Assert.Contains($"<a {expected} data-testid=\"cancel-forget\"", forget, StringComparison.Ordinal);
        Assert.Contains($"<a {expected} data-testid=\"cancel-edit\"", edit, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"https://evil.example", forget + edit, StringComparison.Ordinal);
        Assert.DoesNotContain("href=\"javascript:", forget + edit, StringComparison.Ordinal);
    }

    private async Task<long> CountAsync(string sql, Guid userId)
    {
        await using var command = stack.Api.DataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = userId });
        return (long)(await command.ExecuteScalarAsync())!;
    }

    private static List<Guid> MemoryIds(string html) =>
        [.. MemoryItems().Matches(html).Select(m => Guid.Parse(m.Groups["id"].Value))];

    private static string MemoryItem(string html, Guid id)
    {
        var start = html.IndexOf($"data-memory-id=\"{id}\"", StringComparison.Ordinal);
        Assert.True(start >= 0, $"Memory {id} is not on the page.");
        return html[start..html.IndexOf("</li>", start, StringComparison.Ordinal)];
    }

    [GeneratedRegex("data-testid=\"memory-item\" data-memory-id=\"(?<id>[0-9a-f-]{36})\"")]
    private static partial Regex MemoryItems();

    [GeneratedRegex("data-testid=\"history-row\" data-operation=\"(?<op>[A-Z]+)\" data-actor=\"(?<actor>[a-z]+)\"")]
    private static partial Regex HistoryRows();

    [GeneratedRegex("data-testid=\"admin-memory-row\" data-memory-id=\"(?<id>[0-9a-f-]{36})\" data-owner=\"(?<owner>[^\"]*)\"")]
    private static partial Regex AdminRows();

    [GeneratedRegex("<a href=\"(?<href>[^\"]+)\" data-testid=\"older-memories\"")]
    private static partial Regex OlderLink();
}
