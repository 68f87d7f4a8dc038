using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Infrastructure;
using Npgsql;

namespace AspireAi.Tests.Chat;

public sealed class PromptsAndUsageTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Prompt_versions_are_created_activated_recorded_on_messages_and_rolled_back()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var name = $"test.prompt{Guid.NewGuid():N}"[..30];

        using var v1 = await admin.PostAsJsonAsync("/v1/admin/prompts", new { name, template = "You are v1. Today is {{date}}.", activate = true });
        Assert.Equal(HttpStatusCode.Created, v1.StatusCode);
        using var v2 = await admin.PostAsJsonAsync("/v1/admin/prompts", new { name, template = "You are v2.", temperature = 0.2 });
        var created = await v2.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(2, created.GetProperty("version").GetInt32());
        Assert.False(created.GetProperty("isActive").GetBoolean());
        Assert.Equal(64, created.GetProperty("sha256").GetString()!.Length);

        using var activate = await admin.PostAsync($"/v1/admin/prompts/{name}/versions/2/activate", null);
        Assert.Equal(HttpStatusCode.OK, activate.StatusCode);
        var versions = await admin.GetFromJsonAsync<JsonElement>($"/v1/admin/prompts?name={name}");
        Assert.Equal([2], versions.EnumerateArray().Where(v => v.GetProperty("isActive").GetBoolean()).Select(v => v.GetProperty("version").GetInt32()));

        using var rollback = await admin.PostAsync($"/v1/admin/prompts/{name}/rollback", null);
        Assert.Equal(1, (await rollback.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("version").GetInt32());
        using var noFurther = await admin.PostAsync($"/v1/admin/prompts/{name}/rollback", null);
        Assert.Equal(HttpStatusCode.Conflict, noFurther.StatusCode);
        using var missing = await admin.PostAsync($"/v1/admin/prompts/{name}/versions/9/activate", null);
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);

        // Versions are immutable in the database itself, not only through the Api.
        await using var tamper = factory.DataSource.CreateCommand("UPDATE prompts SET template = 'changed' WHERE name = $1 AND version = 1");
        tamper.Parameters.Add(new() { Value = name });
        var error = await Assert.ThrowsAsync<PostgresException>(() => tamper.ExecuteNonQueryAsync());
        Assert.Contains("immutable", error.MessageText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Each_answer_records_the_active_chat_prompt_version()
    {
        // A prompt name of this test's own, so other tests answering with chat.system are unaffected.
        var promptName = $"chat.t{Guid.NewGuid():N}"[..24];
        await using var isolated = factory.WithSettings(new Dictionary<string, string?> { ["Chat:SystemPromptName"] = promptName });
        var (admin, _) = await isolated.CreateAdminClientAsync();
        (await admin.PostAsJsonAsync("/v1/admin/prompts", new { name = promptName, template = "first", activate = true })).EnsureSuccessStatusCode();
        (await admin.PostAsJsonAsync("/v1/admin/prompts", new { name = promptName, template = "second", activate = true })).EnsureSuccessStatusCode();

        var (client, _) = await isolated.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "hi" }, stream: false));
        var reply = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(promptName, reply.GetProperty("promptName").GetString());
        Assert.Equal(2, reply.GetProperty("promptVersion").GetInt32());
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM messages WHERE id = $1 AND prompt_name = $2 AND prompt_version = 2", reply.GetProperty("messageId").GetGuid(), promptName));
    }

    [Fact]
    public async Task Prompt_administration_requires_an_admin_and_valid_input()
    {
        var (user, _) = await factory.CreateUserClientAsync();
        var (admin, _) = await factory.CreateAdminClientAsync();

        using var forbidden = await user.PostAsJsonAsync("/v1/admin/prompts", new { name = "x", template = "y" });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        using var invalid = await admin.PostAsJsonAsync("/v1/admin/prompts", new { name = "Bad Name!", template = "", temperature = 5 });
        Assert.Equal(HttpStatusCode.BadRequest, invalid.StatusCode);
        var errors = (await invalid.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["name", "temperature", "template"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task Usage_reports_the_callers_tokens_and_admins_see_totals()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        using var send = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "count my tokens" }, stream: false));
        var reply = await send.Content.ReadFromJsonAsync<JsonElement>();
        var tokens = reply.GetProperty("inputTokens").GetInt32() + reply.GetProperty("outputTokens").GetInt32();

        var usage = await client.GetFromJsonAsync<JsonElement>("/v1/usage");
        Assert.Equal(tokens, usage.GetProperty("tokensUsedToday").GetInt64());
        var model = Assert.Single(usage.GetProperty("byModel").EnumerateArray());
        Assert.Equal(reply.GetProperty("model").GetString(), model.GetProperty("key").GetString());
        Assert.Equal(1, model.GetProperty("calls").GetInt64());

        using var forbidden = await client.GetAsync("/v1/admin/usage");
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        var (admin, _) = await factory.CreateAdminClientAsync();
        var byUser = await admin.GetFromJsonAsync<JsonElement>("/v1/admin/usage?groupBy=user");
        Assert.Contains(byUser.GetProperty("totals").EnumerateArray(), t => t.GetProperty("key").GetString() == user.Id.ToString());
        using var badGroup = await admin.GetAsync("/v1/admin/usage?groupBy=planet");
        Assert.Equal(HttpStatusCode.BadRequest, badGroup.StatusCode);
        Assert.True((await badGroup.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").TryGetProperty("groupBy", out _));
    }
}
