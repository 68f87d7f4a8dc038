using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using AspireAi.Workers.Prompts;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Chat;

/// <summary>Prompt diffs and staged rollouts through the admin Api, on real Postgres and Redis.</summary>
public sealed class PromptRolloutTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static string NewName() => $"t.roll{Guid.NewGuid():N}"[..24];

    [Fact]
    public async Task Diff_between_two_versions_lists_the_added_removed_and_unchanged_lines()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var name = NewName();
        await CreateVersionsAsync(admin, name, "alpha\nbeta\ngamma", "alpha\nBETA\ngamma\ndelta");

        var diff = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/prompts/{name}/diff?from=1&to=2");
        Assert.Equal(2, diff.GetProperty("added").GetInt32());
        Assert.Equal(1, diff.GetProperty("removed").GetInt32());
        var lines = diff.GetProperty("lines").EnumerateArray()
            .Select(l => (l.GetProperty("kind").GetString(), l.GetProperty("text").GetString(), Line(l, "oldLine"), Line(l, "newLine"))).ToList();
        List<(string?, string?, int?, int?)> expected =
        [
            ("unchanged", "alpha", 1, 1), ("removed", "beta", 2, null), ("added", "BETA", null, 2), ("unchanged", "gamma", 3, 3),
            ("added", "delta", null, 4),
        ];
        Assert.Equal(expected, lines);

        // Either order; the reverse swaps the kinds.
        var reverse = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/prompts/{name}/diff?from=2&to=1");
        Assert.Equal((1, 2), (reverse.GetProperty("added").GetInt32(), reverse.GetProperty("removed").GetInt32()));

        using var missing = await admin.GetAsync($"/v1/admin/prompts/{name}/diff?from=1&to=7");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
        Assert.Contains("no version 7", (await missing.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        using var bad = await admin.GetAsync($"/v1/admin/prompts/{name}/diff?from=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var errors = (await bad.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["from", "to"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public void Assignment_is_stable_per_user_nested_across_stages_and_close_to_the_percentage()
    {
        var rollout = Guid.CreateVersion7();
        var users = Enumerable.Range(0, 40_000).Select(_ => Guid.NewGuid()).ToList();
        foreach (var (percent, tolerance) in new[] { (1, 0.25), (10, 0.8), (50, 1.5) })
        {
            var served = users.Count(u => PromptRollouts.Serves(u, rollout, percent));
            Assert.InRange(served * 100.0 / users.Count, percent - tolerance, percent + tolerance);
        }
        foreach (var user in users.Take(2_000))
        {
            Assert.Equal(PromptRollouts.Serves(user, rollout, 10), PromptRollouts.Serves(user, rollout, 10));
            // A user in the 1 % stays in at 10 % and 50 %: widening never takes the candidate away from anyone.
            Assert.True(!PromptRollouts.Serves(user, rollout, 1) || PromptRollouts.Serves(user, rollout, 10));
            Assert.True(!PromptRollouts.Serves(user, rollout, 10) || PromptRollouts.Serves(user, rollout, 50));
        }
        // Another rollout picks other users.
        var other = Guid.CreateVersion7();
        Assert.NotEqual(users.Where(u => PromptRollouts.Serves(u, rollout, 10)), users.Where(u => PromptRollouts.Serves(u, other, 10)));
    }

    [Fact]
    public async Task Chat_serves_each_user_the_version_their_bucket_says_and_the_baseline_once_stopped()
    {
        var name = NewName();
        await using var isolated = factory.WithSettings(new Dictionary<string, string?> { ["Chat:SystemPromptName"] = name });
        var (admin, _) = await isolated.CreateAdminClientAsync();
        await CreateVersionsAsync(admin, name, "baseline prompt", "candidate prompt");
        var rollout = await StartAsync(admin, name, 2, stageMinutes: 0);
        var id = rollout.GetProperty("id").GetGuid();
        await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/advance");
        var at50 = await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/advance");
        Assert.Equal(50, at50.GetProperty("percent").GetInt32());

        var users = new List<(HttpClient Client, Guid Id)>();
        for (var i = 0; i < 4; i++)
        {
            var (client, user) = await isolated.CreateUserClientAsync();
            users.Add((client, user.Id));
        }
        foreach (var (client, userId) in users)
        {
            var expected = PromptRollouts.Serves(userId, id, 50) ? 2 : 1;
            Assert.Equal(expected, await AnswerVersionAsync(client));
            Assert.Equal(expected, await AnswerVersionAsync(client));
        }

        var stopped = await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/stop");
        Assert.Equal(("stopped", "manual"), (stopped.GetProperty("status").GetString(), stopped.GetProperty("endReason").GetString()));
        // The stop dropped the cached rollout: everyone is back on the active version at once.
        foreach (var (client, _) in users)
        {
            Assert.Equal(1, await AnswerVersionAsync(client));
        }
        Assert.Equal(["prompt.rollout_started", "prompt.rollout_advanced", "prompt.rollout_advanced", "prompt.rollout_stopped"],
            await RolloutAuditAsync(name));
    }

    [Fact]
    public async Task Advancing_by_hand_goes_1_10_50_then_activates_the_candidate_and_completes()
    {
        var (admin, user) = await factory.CreateAdminClientAsync();
        var name = NewName();
        await CreateVersionsAsync(admin, name, "one", "two");
        var started = await StartAsync(admin, name, 2, stageMinutes: 0);
        Assert.Equal((1, "running", 1), (started.GetProperty("percent").GetInt32(), started.GetProperty("status").GetString(),
            started.GetProperty("baselineVersion").GetInt32()));
        Assert.Equal(JsonValueKind.Null, started.GetProperty("nextAdvanceAt").ValueKind);

        // While it runs, the active version stays put.
        using var activate = await admin.PostAsync($"/v1/admin/prompts/{name}/versions/2/activate", null);
        Assert.Equal(HttpStatusCode.Conflict, activate.StatusCode);
        using var second = await admin.PostAsJsonAsync($"/v1/admin/prompts/{name}/rollouts", new { candidateVersion = 2 });
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);

        Assert.Equal(10, (await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/advance")).GetProperty("percent").GetInt32());
        Assert.Equal(50, (await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/advance")).GetProperty("percent").GetInt32());
        var done = await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/advance");
        Assert.Equal((100, "completed"), (done.GetProperty("percent").GetInt32(), done.GetProperty("status").GetString()));
        Assert.Equal(2, await ActiveVersionAsync(name));

        using var again = await admin.PostAsync($"/v1/admin/prompts/{name}/rollouts/current/advance", null);
        Assert.Equal(HttpStatusCode.Conflict, again.StatusCode);
        Assert.Equal("No rollout running", (await again.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());

        Assert.Equal(["prompt.rollout_started", "prompt.rollout_advanced", "prompt.rollout_advanced", "prompt.rollout_completed"],
            await RolloutAuditAsync(name));
        Assert.Equal(user.Id, await ScalarAsync<Guid>(
            "SELECT actor_user_id FROM audit_log WHERE target_id = $1 AND action = 'prompt.rollout_completed'", name));
    }

    [Fact]
    public async Task The_sweep_job_advances_a_stage_that_is_due_and_leaves_one_that_is_not()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var due = NewName();
        var notDue = NewName();
        await CreateVersionsAsync(admin, due, "a", "b");
        await CreateVersionsAsync(admin, notDue, "a", "b");
        var started = await StartAsync(admin, due, 2, stageMinutes: 30);
        Assert.InRange(started.GetProperty("nextAdvanceAt").GetDateTimeOffset() - started.GetProperty("stageStartedAt").GetDateTimeOffset(),
            TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(30));
        await StartAsync(admin, notDue, 2, stageMinutes: 30);
        await ExecuteAsync("UPDATE prompt_rollouts SET next_advance_at = now() - interval '1 second' WHERE prompt_name = $1", due);

        await MemoryTestData.RunJobAsync<PromptRolloutSweepHandler>(factory.Services, factory.DataSource, JsonElement.Parse("{}"));

        Assert.Equal(10, await ScalarAsync<int>("SELECT percent FROM prompt_rollouts WHERE prompt_name = $1", due));
        Assert.Equal(1, await ScalarAsync<int>("SELECT percent FROM prompt_rollouts WHERE prompt_name = $1", notDue));
        // The next stage is scheduled from this advance.
        Assert.True(await ScalarAsync<bool>(
            "SELECT next_advance_at = stage_started_at + interval '30 minutes' AND stage_started_at > now() - interval '1 minute' FROM prompt_rollouts WHERE prompt_name = $1", due));
        Assert.Equal("schedule", await ScalarAsync<string>(
            "SELECT details->>'by' FROM audit_log WHERE target_id = $1 AND action = 'prompt.rollout_advanced'", due));
        // The schedule, not a person, did it.
        Assert.IsType<DBNull>(await ScalarAsync<object>("SELECT actor_user_id FROM audit_log WHERE target_id = $1 AND action = 'prompt.rollout_advanced'", due));
    }

    [Fact]
    public async Task The_sweep_stops_a_rollout_whose_candidate_fails_more_and_everyone_is_back_on_the_previous_version()
    {
        await using var strict = factory.WithSettings(new Dictionary<string, string?> { ["Prompts:Rollout:MinSamples"] = "10" });
        var (admin, user) = await strict.CreateAdminClientAsync();
        var name = NewName();
        await CreateVersionsAsync(admin, name, "fine", "broken");
        var rollout = await StartAsync(admin, name, 2, stageMinutes: 0);
        await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/advance");

        // Scripted regression: the baseline failed 1 of 20 answers, the candidate 6 of 12.
        await SeedAnswersAsync(user, name, version: 1, answers: 20, failed: 1, thumbsDown: 0);
        await SeedAnswersAsync(user, name, version: 2, answers: 12, failed: 6, thumbsDown: 0);

        await MemoryTestData.RunJobAsync<PromptRolloutSweepHandler>(strict.Services, strict.DataSource, JsonElement.Parse("{}"));

        var listed = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/prompts/{name}/rollouts");
        var item = listed.GetProperty("items")[0];
        Assert.Equal(("auto_stopped", "error_rate", 10), (item.GetProperty("status").GetString(), item.GetProperty("endReason").GetString(),
            item.GetProperty("percent").GetInt32()));
        Assert.Equal(1, await ActiveVersionAsync(name));
        var chooser = strict.Services.GetRequiredService<PromptRollouts>();
        var active = (await strict.Services.GetRequiredService<PromptStore>().GetAsync(name, 1, CancellationToken.None))!;
        var anyone = Enumerable.Range(0, 200).Select(_ => Guid.NewGuid()).First(u => PromptRollouts.Serves(u, rollout.GetProperty("id").GetGuid(), 10));
        Assert.Equal(1, (await chooser.ChooseAsync(active, anyone, CancellationToken.None)).Version);

        Assert.Equal(["prompt.rollout_started", "prompt.rollout_advanced", "prompt.rollout_auto_stopped"], await RolloutAuditAsync(name));
        var details = await ScalarAsync<string>("SELECT details::text FROM audit_log WHERE target_id = $1 AND action = 'prompt.rollout_auto_stopped'", name);
        using var parsed = JsonDocument.Parse(details);
        Assert.Equal("error_rate", parsed.RootElement.GetProperty("reason").GetString());
        Assert.Equal("0.5", parsed.RootElement.GetProperty("candidate_error_rate").GetString());
        Assert.Equal("0.05", parsed.RootElement.GetProperty("baseline_error_rate").GetString());
    }

    [Fact]
    public async Task A_check_stops_on_more_thumbs_down_but_not_below_the_margin_or_the_minimum_sample()
    {
        await using var strict = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Prompts:Rollout:MinSamples"] = "10",
            ["Prompts:Rollout:ThumbsDownRateMargin"] = "0.2",
        });
        var (admin, user) = await strict.CreateAdminClientAsync();
        var name = NewName();
        await CreateVersionsAsync(admin, name, "kind", "rude");
        await StartAsync(admin, name, 2, stageMinutes: 0);
        await SeedAnswersAsync(user, name, version: 1, answers: 20, failed: 0, thumbsDown: 2);
        // 9 ratings: under the minimum sample, however bad.
        await SeedAnswersAsync(user, name, version: 2, answers: 9, failed: 0, thumbsDown: 9);

        var check = await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/check");
        Assert.Equal("running", check.GetProperty("status").GetString());
        Assert.Equal(9, check.GetProperty("comparison").GetProperty("candidate").GetProperty("ratings").GetInt64());
        Assert.Equal(JsonValueKind.Null, check.GetProperty("comparison").GetProperty("regression").ValueKind);

        // 3 more ratings, 1 down: 10 of 12 (0.83) against 2 of 20 (0.1).
        await SeedAnswersAsync(user, name, version: 2, answers: 3, failed: 0, thumbsDown: 1);
        var stopped = await PostOkAsync(admin, $"/v1/admin/prompts/{name}/rollouts/current/check");
        Assert.Equal(("auto_stopped", "thumbs_down_rate"), (stopped.GetProperty("status").GetString(), stopped.GetProperty("endReason").GetString()));
        Assert.Equal(1, await ActiveVersionAsync(name));
        Assert.Equal(["prompt.rollout_started", "prompt.rollout_auto_stopped"], await RolloutAuditAsync(name));
    }

    [Fact]
    public async Task Rollouts_need_an_admin_and_reject_bad_input_with_problem_details()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var (user, _) = await factory.CreateUserClientAsync();
        var name = NewName();
        await CreateVersionsAsync(admin, name, "x", "y");

        foreach (var (method, path) in new[]
        {
            (HttpMethod.Get, $"/v1/admin/prompts/{name}/diff?from=1&to=2"), (HttpMethod.Get, $"/v1/admin/prompts/{name}/rollouts"),
            (HttpMethod.Post, $"/v1/admin/prompts/{name}/rollouts"), (HttpMethod.Post, $"/v1/admin/prompts/{name}/rollouts/current/advance"),
            (HttpMethod.Post, $"/v1/admin/prompts/{name}/rollouts/current/stop"), (HttpMethod.Post, $"/v1/admin/prompts/{name}/rollouts/current/check"),
        })
        {
            using var request = new HttpRequestMessage(method, path);
            if (method == HttpMethod.Post)
            {
                request.Content = JsonContent.Create(new { candidateVersion = 2 });
            }
            using var forbidden = await user.SendAsync(request);
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }

        using var invalid = await admin.PostAsJsonAsync($"/v1/admin/prompts/{name}/rollouts", new { stageMinutes = -1 });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["candidateVersion", "stageMinutes"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));

        using var unknownVersion = await admin.PostAsJsonAsync($"/v1/admin/prompts/{name}/rollouts", new { candidateVersion = 9 });
        Assert.Equal(HttpStatusCode.NotFound, unknownVersion.StatusCode);
        using var unknownPrompt = await admin.PostAsJsonAsync($"/v1/admin/prompts/{NewName()}/rollouts", new { candidateVersion = 1 });
        Assert.Equal(HttpStatusCode.NotFound, unknownPrompt.StatusCode);
        using var active = await admin.PostAsJsonAsync($"/v1/admin/prompts/{name}/rollouts", new { candidateVersion = 1 });
        Assert.Equal(HttpStatusCode.Conflict, active.StatusCode);
        Assert.Equal("Version already active", (await active.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("title").GetString());
        using var stopNothing = await admin.PostAsync($"/v1/admin/prompts/{name}/rollouts/current/stop", null);
        Assert.Equal(HttpStatusCode.Conflict, stopNothing.StatusCode);

        // Nothing half-written by the refusals.
        Assert.Equal(0, await ScalarAsync<long>("SELECT count(*) FROM prompt_rollouts WHERE prompt_name = $1", name));
        Assert.Empty(await RolloutAuditAsync(name));
    }

    private static int? Line(JsonElement line, string property) =>
        line.GetProperty(property).ValueKind == JsonValueKind.Null ? null : line.GetProperty(property).GetInt32();

    private static async Task CreateVersionsAsync(HttpClient admin, string name, string first, string second)
    {
        (await admin.PostAsJsonAsync("/v1/admin/prompts", new { name, template = first, activate = true })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync("/v1/admin/prompts", new { name, template = second })).EnsureSuccessStatusCode();
    }

    private static async Task<JsonElement> StartAsync(HttpClient admin, string name, int candidate, int? stageMinutes)
    {
        using var response = await admin.PostAsJsonAsync($"/v1/admin/prompts/{name}/rollouts", new { candidateVersion = candidate, stageMinutes });
        Assert.True(response.StatusCode == HttpStatusCode.Created, await response.Content.ReadAsStringAsync());
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<JsonElement> PostOkAsync(HttpClient admin, string path)
    {
        using var response = await admin.PostAsync(path, null);
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"{path}: {(int)response.StatusCode} {await response.Content.ReadAsStringAsync()}");
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<int> AnswerVersionAsync(HttpClient client)
    {
        var conversation = await ChatTestData.CreateConversationAsync(client);
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = "hello" }, stream: false));
        Assert.True(response.IsSuccessStatusCode, await response.Content.ReadAsStringAsync());
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("promptVersion").GetInt32();
    }

    // Answers made with one prompt version, the first `failed` of them failed and the first `thumbsDown` rated down
    // (the rest rated up), in a conversation of the given user.
    private async Task SeedAnswersAsync(RegisteredUser user, string name, int version, int answers, int failed, int thumbsDown)
    {
        var conversation = Guid.CreateVersion7();
        await ExecuteAsync("INSERT INTO conversations (id, user_id, org_id, title) VALUES ($1, $2, $3, 'seeded')", conversation, user.Id, user.OrgId);
        await ExecuteAsync("""
            INSERT INTO messages (id, conversation_id, sequence, role, content, status, prompt_name, prompt_version)
            SELECT gen_random_uuid(), $1, g, 'assistant', 'answer', CASE WHEN g <= $4 THEN 'failed' ELSE 'complete' END, $2, $3
            FROM generate_series(1, $5) g
            """, conversation, name, version, failed, answers);
        await ExecuteAsync("""
            INSERT INTO message_feedback (message_id, conversation_id, user_id, rating, prompt_name, prompt_version)
            SELECT id, conversation_id, $2, CASE WHEN sequence <= $3 THEN -1 ELSE 1 END, prompt_name, prompt_version
            FROM messages WHERE conversation_id = $1
            """, conversation, user.Id, (short)thumbsDown);
    }

    private async Task<int> ActiveVersionAsync(string name) =>
        await ScalarAsync<int>("SELECT version FROM prompts WHERE name = $1 AND is_active", name);

    private async Task<string[]> RolloutAuditAsync(string name)
    {
        await using var command = factory.DataSource.CreateCommand(
            "SELECT action FROM audit_log WHERE target_type = 'prompt' AND target_id = $1 AND action LIKE 'prompt.rollout%' ORDER BY chain_seq");
        command.Parameters.Add(new() { Value = name });
        var actions = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            actions.Add(reader.GetString(0));
        }
        return [.. actions];
    }

    private async Task<T> ScalarAsync<T>(string sql, params object[] parameters)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new() { Value = p });
        }
        return (T)(await command.ExecuteScalarAsync())!;
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new() { Value = p });
        }
        await command.ExecuteNonQueryAsync();
    }
}
