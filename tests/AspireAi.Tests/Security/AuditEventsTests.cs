using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Security;

/// <summary>
/// The administrative acts and the export the audit log must hold, besides sign-in and API keys: prompt activation
/// and rollback, job enqueue/cancel/replay, and a memory export, each with its actor and target, in the hash chain.
/// </summary>
public sealed class AuditEventsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Prompt_steps_job_actions_and_a_memory_export_are_appended_to_the_chain_with_actor_and_target()
    {
        var (admin, adminUser) = await factory.CreateAdminClientAsync();
        var (user, member) = await factory.CreateUserClientAsync();
        var prompt = "audit-" + Guid.NewGuid().ToString("N")[..12];

        await Expect(HttpStatusCode.Created, admin.PostAsJsonAsync("/v1/admin/prompts", new { name = prompt, template = "Version one." }));
        await Expect(HttpStatusCode.OK, admin.PostAsync($"/v1/admin/prompts/{prompt}/versions/1/activate", null));
        await Expect(HttpStatusCode.Created, admin.PostAsJsonAsync("/v1/admin/prompts", new { name = prompt, template = "Version two.", activate = true }));
        await Expect(HttpStatusCode.OK, admin.PostAsync($"/v1/admin/prompts/{prompt}/rollback", null));
        // A refused step (nothing older to roll back to) is not an act: nothing is appended for it.
        await Expect(HttpStatusCode.Conflict, admin.PostAsync($"/v1/admin/prompts/{prompt}/rollback", null));

        var job = (await Expect(HttpStatusCode.Created, admin.PostAsJsonAsync("/v1/admin/jobs",
            new { type = "audit.test", delaySeconds = 3600, payload = new { note = "never runs" } }))).GetProperty("id").GetInt64();
        await Expect(HttpStatusCode.OK, admin.PostAsync($"/v1/admin/jobs/{job}/cancel", null));
        await Expect(HttpStatusCode.OK, admin.PostAsync($"/v1/admin/jobs/{job}/replay", null));
        await Expect(HttpStatusCode.OK, admin.PostAsync($"/v1/admin/jobs/{job}/cancel", null));

        using (var export = await user.GetAsync("/v1/memories/export"))
        {
            Assert.Equal(HttpStatusCode.OK, export.StatusCode);
        }

        var promptEvents = await EventsAsync(admin, "prompt", prompt);
        Assert.Equal(["prompt.created", "prompt.activated", "prompt.activated", "prompt.rolled_back"], promptEvents.Select(e => e.Action));
        Assert.All(promptEvents, e => Assert.Equal(adminUser.Id, e.Actor));
        Assert.Equal(["1", "1", "2", "1"], promptEvents.Select(e => e.Details.GetProperty("version").GetString()));

        var jobEvents = await EventsAsync(admin, "job", job.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Assert.Equal(["job.enqueued", "job.cancelled", "job.replayed", "job.cancelled"], jobEvents.Select(e => e.Action));
        Assert.All(jobEvents, e => Assert.Equal("audit.test", e.Details.GetProperty("type").GetString()));

        var exportEvent = Assert.Single(await EventsAsync(admin, "user", member.Id.ToString(), "memory.exported"));
        Assert.Equal(member.Id, exportEvent.Actor);

        // All of it is linked into the hash chain (AuditChainTests verify the chain itself).
        Assert.All(promptEvents.Concat(jobEvents).Append(exportEvent), e => Assert.Equal(64, e.Hash.Length));
    }

    private static async Task<JsonElement> Expect(HttpStatusCode status, Task<HttpResponseMessage> request)
    {
        using var response = await request;
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == status, $"Expected {status}, got {(int)response.StatusCode}: {body}");
        return body.Length == 0 ? default : JsonElement.Parse(body);
    }

    private sealed record Event(string Action, Guid? Actor, JsonElement Details, string Hash);

    // Oldest first, as they happened (the log lists newest first).
    private static async Task<List<Event>> EventsAsync(HttpClient admin, string targetType, string targetId, string? action = null)
    {
        var query = $"/v1/admin/audit?targetType={targetType}&targetId={Uri.EscapeDataString(targetId)}&limit=50" + (action is null ? "" : $"&action={action}");
        var page = await admin.GetFromJsonAsync<JsonElement>(query);
        return [.. page.GetProperty("items").EnumerateArray().Reverse().Select(e => new Event(
            e.GetProperty("action").GetString()!,
            e.GetProperty("actorUserId").ValueKind == JsonValueKind.Null ? null : e.GetProperty("actorUserId").GetGuid(),
            e.GetProperty("details"),
            e.GetProperty("hash").GetString()!))];
    }
}
