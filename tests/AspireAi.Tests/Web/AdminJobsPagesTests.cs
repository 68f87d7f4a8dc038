using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Jobs;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Web;

// The admin pages for the job queues (/admin/jobs, /admin/jobs/{id}) in front of the real Api on the shared
// database. Every test uses job types of its own, so the counts and lists it reads are only its own jobs.
public sealed partial class AdminJobsPagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    [Fact]
    public async Task The_overview_counts_each_type_and_links_every_count_to_its_filtered_list()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        for (var i = 0; i < 3; i++)
        {
            await EnqueueAsync(admin, new { type });
        }
        await EnqueueAsync(admin, new { type, delaySeconds = 3600 });
        await MakeRunningAsync(await EnqueueAsync(admin, new { type }));
        await MakeDeadAsync(await EnqueueAsync(admin, new { type }), "first failure");
        await MakeDeadAsync(await EnqueueAsync(admin, new { type }), "second failure");
        // The oldest due job has waited ten minutes: the age is shown the way people read it.
        await ExecuteAsync("UPDATE jobs SET run_at = now() - interval '10 minutes' WHERE id = (SELECT min(id) FROM jobs WHERE type = $1)", type);

        var html = await browser.GetPageAsync("/admin/jobs");

        var row = StatsRow(html, type);
        // Queued counts the scheduled job too, as the Api does; the scheduled column says how many are not due yet.
        Assert.Equal(("4", "1", "1", "2"), (Cell(row, "stats-queued"), Cell(row, "stats-scheduled"), Cell(row, "stats-running"), Cell(row, "stats-dead")));
        Assert.Matches(@"data-testid=""stats-oldest"">\s*<span class=""age-warn"" title=""6\d\d seconds"">10 min( \d+ s)?</span>", row);
        var escaped = Uri.EscapeDataString(type);
        Assert.Equal($"admin/jobs?status=dead&amp;type={escaped}#jobs", Href(row, "stats-dead"));
        Assert.Equal($"admin/jobs?status=queued&amp;type={escaped}#jobs", Href(row, "stats-queued"));
        Assert.Equal($"admin/jobs?status=running&amp;type={escaped}#jobs", Href(row, "stats-running"));
        Assert.Matches(@"data-testid=""stats-at"">\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC<", html);
        // Totals cover every type of the shared database, so they are at least this type's counts.
        Assert.True(long.Parse(Cell(html, "total-dead"), System.Globalization.CultureInfo.InvariantCulture) >= 2);
        Assert.Equal("admin/jobs?status=dead#jobs", Href(html, "total-dead"));

        // Following the dead count lists exactly this type's dead jobs.
        var dead = await browser.GetPageAsync("/" + WebUtility.HtmlDecode(Href(row, "stats-dead")));
        Assert.Equal(["dead", "dead"], JobRows().Matches(dead).Select(m => m.Groups["status"].Value));
        Assert.Contains("<h2 id=\"jobs\" class=\"jobs-list-title\">Dead letters</h2>", dead, StringComparison.Ordinal);
        Assert.Contains($"<option value=\"{type}\" selected", dead, StringComparison.Ordinal);
        Assert.Contains("<option value=\"dead\" selected", dead, StringComparison.Ordinal);

        // Auto-refresh is opt-in and only on the overview.
        Assert.DoesNotContain("http-equiv=\"refresh\"", html, StringComparison.Ordinal);
        var refreshing = await browser.GetPageAsync("/admin/jobs?refresh=on");
        Assert.Contains("<meta http-equiv=\"refresh\" content=\"10\"", refreshing, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_job_that_failed_on_a_worker_is_a_dead_letter_with_its_error_and_replay_requeues_it()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var (type, id) = await RunFailingJobUntilDeadAsync();
        var deadLetters = $"/admin/jobs?status=dead&type={type}";

        var html = await browser.GetPageAsync(deadLetters);

        var row = JobRow(html, id);
        Assert.Contains("data-job-status=\"dead\"", row, StringComparison.Ordinal);
        Assert.Contains("2/2", Cell(row, "job-attempts"), StringComparison.Ordinal);
        Assert.Contains("Test failure on attempt 2: flag", row, StringComparison.Ordinal);
        Assert.Contains("data-testid=\"replay-job\"", row, StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"cancel-job\"", row, StringComparison.Ordinal);

        using var response = await browser.PostFormAsync(deadLetters, WebBrowser.AntiforgeryToken(html),
            [new("_handler", "job-action"), new("ReplayId", id.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(deadLetters, browser.LocationOf(response));
        Assert.Equal((JobStatus.Queued, 0, 1), await StateAsync(id));
        // Post/redirect/get: the dead-letter view no longer lists it, and says once what happened.
        var after = await browser.GetPageAsync(deadLetters);
        Assert.Contains($"Job {id} was replayed: it is queued again", FlashOf(after), StringComparison.Ordinal);
        Assert.Empty(JobRows().Matches(after));
        Assert.Contains("data-testid=\"job-list-empty\"", after, StringComparison.Ordinal);
        Assert.Null(FlashOrNull(await browser.GetPageAsync(deadLetters)));
    }

    [Fact]
    public async Task Cancel_from_the_list_cancels_only_the_queued_job_that_was_clicked()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        var keep = await EnqueueAsync(admin, new { type });
        var scheduled = await EnqueueAsync(admin, new { type, delaySeconds = 600 });
        var view = $"/admin/jobs?type={type}";
        var html = await browser.GetPageAsync(view);
        Assert.Contains("data-testid=\"cancel-job\"", JobRow(html, scheduled), StringComparison.Ordinal);
        Assert.Contains("data-testid=\"job-scheduled\">(in 9 min", JobRow(html, scheduled), StringComparison.Ordinal);

        using var response = await browser.PostFormAsync(view, WebBrowser.AntiforgeryToken(html),
            [new("_handler", "job-action"), new("CancelId", scheduled.ToString(System.Globalization.CultureInfo.InvariantCulture))]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal(view, browser.LocationOf(response));
        Assert.Equal(JobStatus.Cancelled, await JobsTestData.StatusAsync(stack.Api.DataSource, scheduled));
        Assert.Equal(JobStatus.Queued, await JobsTestData.StatusAsync(stack.Api.DataSource, keep));
        var after = await browser.GetPageAsync(view);
        Assert.Equal($"Job {scheduled} was cancelled.", FlashOf(after));
        // A cancelled job can be replayed, and is no longer offered for cancelling.
        Assert.Contains("data-testid=\"replay-job\"", JobRow(after, scheduled), StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"cancel-job\"", JobRow(after, scheduled), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_change_the_api_refuses_shows_its_problem_on_the_page_and_changes_nothing()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        var queued = await EnqueueAsync(admin, new { type });
        var running = await EnqueueAsync(admin, new { type });
        await MakeRunningAsync(running);
        var view = $"/admin/jobs?type={type}";
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync(view));

        // As if another tab was stale: the buttons were for jobs whose state has moved on.
        using var replay = await browser.PostFormAsync(view, token, [new("_handler", "job-action"), new("ReplayId", $"{queued}")]);
        var replayHtml = await replay.Content.ReadAsStringAsync();
        using var cancel = await browser.PostFormAsync(view, token, [new("_handler", "job-action"), new("CancelId", $"{running}")]);
        var cancelHtml = await cancel.Content.ReadAsStringAsync();

        Assert.True(replay.StatusCode == HttpStatusCode.OK, replayHtml);
        Assert.Contains($"Only dead or cancelled jobs can be replayed; job {queued} is queued.", ErrorOf(replayHtml), StringComparison.Ordinal);
        Assert.True(cancel.StatusCode == HttpStatusCode.OK, cancelHtml);
        Assert.Contains($"Job {running} is running; only queued jobs can be cancelled.", ErrorOf(cancelHtml), StringComparison.Ordinal);
        // The page still shows the list, so the operator sees the state that made the Api refuse.
        Assert.Contains("data-job-status=\"running\"", JobRow(cancelHtml, running), StringComparison.Ordinal);
        Assert.Equal((JobStatus.Queued, 0, 0), await StateAsync(queued));
        Assert.Equal(JobStatus.Running, await JobsTestData.StatusAsync(stack.Api.DataSource, running));
    }

    [Fact]
    public async Task The_details_page_shows_the_fields_the_encoded_payload_the_trace_and_every_attempt_and_replays()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        var id = await EnqueueAsync(admin, new { type, payload = new { document = "d-42", note = "<script>alert('x')</script> café" }, maxAttempts = 2 });
        await ExecuteAsync("""
            UPDATE jobs SET status = 'dead', attempts = 2, last_error = 'Timeout talking to <embedder>', finished_at = now(),
                   traceparent = '00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01'
            WHERE id = $1
            """, id);
        await ExecuteAsync("""
            INSERT INTO job_attempts (job_id, attempt, worker_id, started_at, finished_at, outcome, error) VALUES
                ($1, 1, 'worker-a', now() - interval '10 minutes', now() - interval '10 minutes' + interval '1500 milliseconds', 'lease_expired', 'lease expired'),
                ($1, 2, 'worker-b', now() - interval '5 minutes', now() - interval '5 minutes' + interval '250 milliseconds', 'failed', 'Timeout talking to <embedder>')
            """, id);

        var html = await browser.GetPageAsync($"/admin/jobs/{id}");

        Assert.Contains($"<h1>Job {id}</h1>", html, StringComparison.Ordinal);
        Assert.Contains($"data-testid=\"job-type\"><a href=\"admin/jobs?type={type}#jobs\">{type}</a>", html, StringComparison.Ordinal);
        Assert.Equal("2 of 2", Cell(html, "job-attempts"));
        Assert.Contains("<code>4bf92f3577b34da6a3ce929d0e0e4736</code>", Cell(html, "job-trace-id"), StringComparison.Ordinal);
        Assert.Equal("Timeout talking to &lt;embedder&gt;", Cell(html, "job-last-error"));
        // Pretty JSON, encoded: the payload's markup is text on the page, never markup.
        var payload = Cell(html, "job-payload");
        Assert.Contains("{\n  \"note\": \"<script>", WebUtility.HtmlDecode(payload), StringComparison.Ordinal);
        Assert.Contains("\n  \"document\": \"d-42\"\n}", WebUtility.HtmlDecode(payload), StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(", payload, StringComparison.Ordinal);
        Assert.Contains("café", WebUtility.HtmlDecode(payload), StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert", html, StringComparison.Ordinal);
        var attempts = AttemptRows().Matches(html).Select(m => (m.Groups["attempt"].Value, m.Groups["outcome"].Value, m.Groups["body"].Value)).ToList();
        Assert.Equal([("1", "lease_expired"), ("2", "failed")], attempts.Select(a => (a.Item1, a.Item2)));
        Assert.Contains("<code>worker-a</code>", attempts[0].Item3, StringComparison.Ordinal);
        Assert.Equal("1.50 s", Cell(attempts[0].Item3, "attempt-duration"));
        Assert.Contains("lease expired (worker lost)", attempts[0].Item3, StringComparison.Ordinal);
        Assert.Contains("<code>worker-b</code>", attempts[1].Item3, StringComparison.Ordinal);
        Assert.Equal("250 ms", Cell(attempts[1].Item3, "attempt-duration"));
        Assert.Equal("Timeout talking to &lt;embedder&gt;", Cell(attempts[1].Item3, "attempt-error"));
        Assert.Contains("data-testid=\"replay-job\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"cancel-job\"", html, StringComparison.Ordinal);

        using var response = await browser.PostFormAsync($"/admin/jobs/{id}", WebBrowser.AntiforgeryToken(html),
            [new("_handler", "job-action"), new("ReplayId", $"{id}")]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/admin/jobs/{id}", browser.LocationOf(response));
        Assert.Equal((JobStatus.Queued, 0, 1), await StateAsync(id));
        var after = await browser.GetPageAsync($"/admin/jobs/{id}");
        Assert.Contains($"Job {id} was replayed", FlashOf(after), StringComparison.Ordinal);
        Assert.Equal("0 of 2, replayed 1×", WebUtility.HtmlDecode(Cell(after, "job-attempts")));
        // The history is kept across the replay, and a queued job is offered for cancelling instead.
        Assert.Equal(2, AttemptRows().Count(after));
        Assert.Contains("data-testid=\"cancel-job\"", after, StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"replay-job\"", after, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_new_job_shows_the_trace_it_was_enqueued_in_and_no_attempts_and_an_unknown_job_is_not_found()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var id = await EnqueueAsync(admin, new { type = JobsTestData.NewType("test.web") });

        var html = await browser.GetPageAsync($"/admin/jobs/{id}");
        using var missing = await browser.Http.GetAsync("/admin/jobs/999999999999");
        var missingHtml = await missing.Content.ReadAsStringAsync();

        Assert.Contains("data-testid=\"job-attempts-empty\"", html, StringComparison.Ordinal);
        // Enqueued through the Api, the job carries the trace of that request.
        var traceParent = await JobsTestData.ScalarAsync<string>(stack.Api.DataSource, "SELECT traceparent FROM jobs WHERE id = $1", id);
        Assert.Equal($"<code>{traceParent[3..35]}</code>", Cell(html, "job-trace-id"));
        Assert.True(missing.StatusCode == HttpStatusCode.NotFound, missingHtml);
        Assert.Contains("data-testid=\"not-found\"", missingHtml, StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"job-fields\"", missingHtml, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_list_is_newest_first_and_pages_back_with_the_cursor_keeping_the_filter()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        var ids = new List<long>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add(await EnqueueAsync(admin, new { type }));
        }
        ids.Reverse();

        var seen = new List<long>();
        var path = $"/admin/jobs?status=queued&type={type}&limit=2";
        var pages = 0;
        while (true)
        {
            var html = await browser.GetPageAsync(path);
            seen.AddRange(JobRows().Matches(html).Select(m => long.Parse(m.Groups["id"].Value, System.Globalization.CultureInfo.InvariantCulture)));
            Assert.Equal(pages > 0, html.Contains("data-testid=\"newest-jobs\"", StringComparison.Ordinal));
            pages++;
            var older = OlderLink().Match(html);
            if (!older.Success)
            {
                break;
            }
            var href = WebUtility.HtmlDecode(older.Groups["href"].Value);
            Assert.StartsWith($"admin/jobs?status=queued&type={type}&limit=2&cursor=", href, StringComparison.Ordinal);
            path = "/" + href;
        }

        Assert.Equal(ids, seen);
        Assert.Equal(3, pages);
    }

    [Fact]
    public async Task A_filter_the_api_refuses_is_explained_with_the_field_and_the_overview_still_shows()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        await EnqueueAsync(admin, new { type });

        using var response = await browser.Http.GetAsync($"/admin/jobs?type=Not%20A%20Type&limit=500");
        var html = await response.Content.ReadAsStringAsync();

        Assert.True(response.StatusCode == HttpStatusCode.OK, html);
        Assert.Contains("data-testid=\"error\"", html, StringComparison.Ordinal);
        var fields = Cell(html, "field-errors");
        Assert.Contains("<code>type</code>: The type must be lowercase letters", fields, StringComparison.Ordinal);
        Assert.Contains("<code>limit</code>: The limit must be a whole number from 1 to 200.", fields, StringComparison.Ordinal);
        Assert.DoesNotContain("data-testid=\"job-list\"", html, StringComparison.Ordinal);
        Assert.Contains($"data-job-type=\"{type}\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_signed_in_user_who_is_not_an_admin_gets_no_job_data_and_cannot_replay()
    {
        using var adminSession = await SignInAsync("admin");
        using var userSession = await SignInAsync(null);
        var (admin, browser) = (adminSession.Api, userSession.Browser);
        var type = JobsTestData.NewType("test.web");
        var id = await EnqueueAsync(admin, new { type });
        await MakeDeadAsync(id, "secret-failure-detail");

        foreach (var path in new[] { "/admin/jobs", "/admin/jobs?status=dead", $"/admin/jobs?type={type}", $"/admin/jobs/{id}" })
        {
            using var response = await browser.Http.GetAsync(path);
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.Redirect, $"GET {path}: {(int)response.StatusCode} {html}");
            Assert.StartsWith("/denied?returnUrl=", browser.LocationOf(response), StringComparison.Ordinal);
            Assert.DoesNotContain(type, html, StringComparison.Ordinal);
            Assert.DoesNotContain("secret-failure-detail", html, StringComparison.Ordinal);
            Assert.DoesNotContain("data-testid=\"job-stats\"", html, StringComparison.Ordinal);
        }

        // With a valid antiforgery token of the user's own pages, a replay post is still refused before it runs.
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/"));
        using var replay = await browser.PostFormAsync("/admin/jobs?status=dead", token, [new("_handler", "job-action"), new("ReplayId", $"{id}")]);
        Assert.Equal(HttpStatusCode.Redirect, replay.StatusCode);
        Assert.StartsWith("/denied?returnUrl=", browser.LocationOf(replay), StringComparison.Ordinal);
        Assert.Equal((JobStatus.Dead, 2, 0), await StateAsync(id));
    }

    [Fact]
    public async Task A_replay_without_the_antiforgery_token_is_refused_and_changes_nothing()
    {
        using var session = await SignInAsync("admin");
        var (browser, admin) = (session.Browser, session.Api);
        var type = JobsTestData.NewType("test.web");
        var dead = await EnqueueAsync(admin, new { type });
        await MakeDeadAsync(dead, "boom");
        var queued = await EnqueueAsync(admin, new { type });

        using var replay = await browser.Http.PostAsync("/admin/jobs?status=dead", new FormUrlEncodedContent(
            [new("_handler", "job-action"), new("ReplayId", $"{dead}")]));
        using var cancel = await browser.Http.PostAsync($"/admin/jobs/{queued}", new FormUrlEncodedContent(
            [new("_handler", "job-action"), new("CancelId", $"{queued}")]));

        Assert.Equal(HttpStatusCode.BadRequest, replay.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, cancel.StatusCode);
        Assert.Equal((JobStatus.Dead, 2, 0), await StateAsync(dead));
        Assert.Equal(JobStatus.Queued, await JobsTestData.StatusAsync(stack.Api.DataSource, queued));
    }

    [Fact]
    public async Task An_admin_whose_role_the_api_no_longer_grants_sees_its_refusal_instead_of_data()
    {
        // Web's role claim is the one the Api reported at sign-in; here the Api says "admin" then, and 403 after.
        await using var api = await WithdrawnAdminApi.StartAsync();
        await using var web = new WebAppFactory(api.BaseAddress, new Dictionary<string, string?>());
        using var browser = new WebBrowser(web.Start());
        using (var signIn = await browser.SignInAsync("former-admin@example.test", "password"))
        {
            Assert.Equal(HttpStatusCode.Redirect, signIn.StatusCode);
        }

        foreach (var path in new[] { "/admin/jobs?status=dead", "/admin/jobs/42" })
        {
            using var response = await browser.Http.GetAsync(path);
            var html = await response.Content.ReadAsStringAsync();
            Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {html}");
            Assert.Contains("You do not have permission to perform this action.", ErrorOf(html), StringComparison.Ordinal);
            Assert.Contains("trace-forbidden", ErrorOf(html), StringComparison.Ordinal);
            Assert.DoesNotContain("data-testid=\"job-stats\"", html, StringComparison.Ordinal);
            Assert.DoesNotContain("data-testid=\"job-fields\"", html, StringComparison.Ordinal);

            // The action form is still there, so a post gets the Api's answer too rather than a 400 or a 500.
            using var post = await browser.PostFormAsync(path, WebBrowser.AntiforgeryToken(html), [new("_handler", "job-action"), new("ReplayId", "42")]);
            var postHtml = await post.Content.ReadAsStringAsync();
            Assert.True(post.StatusCode == HttpStatusCode.OK, $"POST {path}: {(int)post.StatusCode} {postHtml}");
            Assert.Contains("You do not have permission to perform this action.", ErrorOf(postHtml), StringComparison.Ordinal);
        }
        Assert.Equal(2, api.ReplayCalls);
    }

    private async Task<Session> SignInAsync(string? role)
    {
        var (browser, api, _) = await stack.SignInAsync(role);
        return new Session(browser, api);
    }

    private sealed record Session(WebBrowser Browser, HttpClient Api) : IDisposable
    {
        public void Dispose()
        {
            Browser.Dispose();
            Api.Dispose();
        }
    }

    private static async Task<long> EnqueueAsync(HttpClient admin, object request)
    {
        using var response = await admin.PostAsJsonAsync("/v1/admin/jobs", request);
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetInt64();
    }

    private Task MakeDeadAsync(long id, string error) =>
        ExecuteAsync("UPDATE jobs SET status = 'dead', attempts = 2, max_attempts = 2, last_error = $2, finished_at = now() WHERE id = $1", id, error);

    // Held by a lease far in the future, so no worker's reaper takes it back during the test.
    private Task MakeRunningAsync(long id) => ExecuteAsync("""
        UPDATE jobs SET status = 'running', attempts = 1, started_at = now(), lease_owner = 'test-worker', lease_expires_at = now() + interval '1 hour'
        WHERE id = $1
        """, id);

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = stack.Api.DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        Assert.True(await command.ExecuteNonQueryAsync() >= 1, sql);
    }

    private async Task<(string Status, int Attempts, int Replays)> StateAsync(long id)
    {
        await using var command = stack.Api.DataSource.CreateCommand("SELECT status, attempts, replays FROM jobs WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), $"job {id} is gone");
        return (reader.GetString(0), reader.GetInt32(1), reader.GetInt32(2));
    }

    // A real Workers host runs a test handler that always throws, until the job is dead; the host is stopped
    // before the test goes on, so nothing takes the job again after a replay.
    private async Task<(string Type, long Id)> RunFailingJobUntilDeadAsync()
    {
        var servers = stack.Api.Servers;
        await JobsTestData.EnsureSchemaAsync(servers.DataSource);
        var type = JobsTestData.NewType("test.web");
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:Workers"] = "1",
            ["Jobs:PollInterval"] = "00:00:00.200",
            [$"Jobs:Types:{type}:BackoffBase"] = "00:00:00.050",
            [$"Jobs:Types:{type}:BackoffCap"] = "00:00:00.100",
            ["Jobs:TestHandlers:EffectTypes"] = type,
        });
        try
        {
            using var queueHost = JobsTestData.CreateQueueHost(servers.PostgresConnectionString);
            var queue = queueHost.Services.GetRequiredService<IJobQueue>();
            var id = (await queue.EnqueueAsync(new JobRequest(type, new { key = "web", failUntilFlag = $"never-{Guid.NewGuid():N}" }) { MaxAttempts = 2 })).JobId;
            await JobsTestData.WaitForStatusAsync(servers.DataSource, id, JobStatus.Dead, TimeSpan.FromSeconds(30));
            return (type, id);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }
    }

    private static string StatsRow(string html, string type)
    {
        var match = Regex.Match(html, $"""<tr data-testid="job-stats-row" data-job-type="{Regex.Escape(type)}">(?<row>.*?)</tr>""", RegexOptions.Singleline);
        Assert.True(match.Success, $"No stats row for {type}.");
        return match.Groups["row"].Value;
    }

    private static string JobRow(string html, long id)
    {
        var match = Regex.Match(html, $"""<tr data-testid="job-row" data-job-id="{id}"[^>]*>.*?</tr>""", RegexOptions.Singleline);
        Assert.True(match.Success, $"No row for job {id}.");
        return match.Value;
    }

    // The text of the element with this data-testid (up to its closing tag), trimmed.
    private static string Cell(string html, string testId)
    {
        var match = Regex.Match(html, $"""data-testid="{testId}"[^>]*>(?<text>.*?)</(a|td|dd|pre|ul|span)>""", RegexOptions.Singleline);
        Assert.True(match.Success, $"No {testId} in the page.");
        return match.Groups["text"].Value.Trim();
    }

    private static string Href(string html, string testId)
    {
        var match = Regex.Match(html, $"""<a href="(?<href>[^"]*)"[^>]*data-testid="{testId}">""");
        Assert.True(match.Success, $"No {testId} link in the page.");
        return match.Groups["href"].Value;
    }

    private static string ErrorOf(string html) =>
        Regex.Match(html, """<div class="notice error" role="alert" data-testid="error">(?<text>.*?)</div>""", RegexOptions.Singleline) is { Success: true } match
            ? WebUtility.HtmlDecode(match.Groups["text"].Value)
            : throw new Xunit.Sdk.XunitException($"No error notice in the page:\n{html}");

    private static string? FlashOrNull(string html) =>
        Regex.Match(html, """<p class="notice success" role="status" data-testid="flash">(?<text>[^<]*)</p>""") is { Success: true } match
            ? WebUtility.HtmlDecode(match.Groups["text"].Value)
            : null;

    private static string FlashOf(string html) => FlashOrNull(html) ?? throw new Xunit.Sdk.XunitException("No confirmation on the page.");

    [GeneratedRegex("""<tr data-testid="job-row" data-job-id="(?<id>\d+)" data-job-status="(?<status>[a-z]+)">""")]
    private static partial Regex JobRows();

    [GeneratedRegex("""<tr data-testid="job-attempt" data-attempt="(?<attempt>\d+)" data-outcome="(?<outcome>[a-z_]+)">(?<body>.*?)</tr>""", RegexOptions.Singleline)]
    private static partial Regex AttemptRows();

    [GeneratedRegex("""<a href="(?<href>[^"]+)" data-testid="older-jobs">""")]
    private static partial Regex OlderLink();

    // An Api that signs the user in as an admin and then refuses every job call with 403, as the real Api does
    // once the user's role has been withdrawn: what a stale role claim in Web's cookie runs into.
    private sealed class WithdrawnAdminApi : IAsyncDisposable
    {
        private readonly WebApplication _app;
        private int _replayCalls;

        private WithdrawnAdminApi(WebApplication app) => _app = app;

        public Uri BaseAddress { get; private set; } = null!;

        public int ReplayCalls => Volatile.Read(ref _replayCalls);

        public static async Task<WithdrawnAdminApi> StartAsync()
        {
            var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
            builder.Logging.ClearProviders();
            var app = builder.Build();
            app.Urls.Add("http://127.0.0.1:0");
            var api = new WithdrawnAdminApi(app);
            app.MapPost("/v1/auth/token", () => TypedResults.Ok(new
            {
                accessToken = "access",
                tokenType = "Bearer",
                expiresIn = 3600,
                refreshToken = "refresh",
                refreshExpiresIn = 86400,
            }));
            app.MapGet("/v1/auth/me", () => TypedResults.Ok(new { id = "u1", orgId = "o1", email = "former-admin@example.test", role = "admin" }));
            app.MapPost("/v1/admin/jobs/{id:long}/replay", () =>
            {
                Interlocked.Increment(ref api._replayCalls);
                return Forbidden();
            });
            app.Map("/v1/admin/jobs/{**rest}", Forbidden);
            await app.StartAsync();
            api.BaseAddress = new Uri(app.Urls.Single());
            return api;
        }

        private static Microsoft.AspNetCore.Http.HttpResults.ProblemHttpResult Forbidden() => TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = StatusCodes.Status403Forbidden,
            Title = "Forbidden",
            Detail = "You do not have permission to perform this action.",
            Extensions = { ["traceId"] = "trace-forbidden" },
        });

        public async ValueTask DisposeAsync()
        {
            await _app.StopAsync();
            await _app.DisposeAsync();
        }
    }
}
