using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using Npgsql;

namespace AspireAi.Tests.Security;

/// <summary>
/// The hash-chained audit log: rows are listed with filters and a cursor, and verification finds a row edited or
/// deleted with SQL. The tests tamper with the shared database only briefly and put it back, so the chain that other
/// tests extend stays whole.
/// </summary>
public sealed class AuditChainTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Verification_finds_a_row_edited_with_SQL_and_passes_again_once_it_is_put_back()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var (_, user) = await factory.CreateUserClientAsync();
        using (var failed = await factory.CreateClient().TokenAsync(user.Email, "wrong-password-123"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }

        var id = await factory.ScalarAsync<long>("SELECT id FROM audit_log WHERE action = 'auth.login_failed' AND target_id = $1", user.Id.ToString());
        var original = await factory.ScalarAsync<string>("SELECT details::text FROM audit_log WHERE id = $1", id);
        var before = await VerifyAsync(admin);
        Assert.True(before.GetProperty("intact").GetBoolean(), before.GetRawText());

        await ExecuteAsync("UPDATE audit_log SET details = jsonb_set(details, '{ip}', '\"203.0.113.1\"') WHERE id = $1", id);
        var tampered = await VerifyAsync(admin);
        await ExecuteAsync("UPDATE audit_log SET details = $2::jsonb WHERE id = $1", id, original!);
        var restored = await VerifyAsync(admin);

        Assert.False(tampered.GetProperty("intact").GetBoolean());
        var broken = tampered.GetProperty("firstBroken");
        Assert.Equal(id, broken.GetProperty("id").GetInt64());
        Assert.Equal("content_changed", broken.GetProperty("reason").GetString());
        Assert.True(restored.GetProperty("intact").GetBoolean(), restored.GetRawText());
        Assert.True(restored.GetProperty("rowsChecked").GetInt64() > 0);
    }

    [Fact]
    public async Task Verification_finds_a_deleted_row_at_the_row_after_it()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var marker = Guid.NewGuid().ToString();
        // Holding the chain's lock keeps every other writer out while the two rows below are the newest.
        await using var connection = await factory.DataSource.OpenConnectionAsync();
        await Execute(connection, "SELECT pg_advisory_lock(hashtext('audit_log_chain'))");
        try
        {
            await Execute(connection, "INSERT INTO audit_log (action, target_type, target_id) VALUES ('test.first', 'test', $1)", marker);
            await Execute(connection, "INSERT INTO audit_log (action, target_type, target_id) VALUES ('test.second', 'test', $1)", marker);
            var second = await Scalar<long>(connection, "SELECT id FROM audit_log WHERE action = 'test.second' AND target_id = $1", marker);
            await Execute(connection, "DELETE FROM audit_log WHERE action = 'test.first' AND target_id = $1", marker);

            var result = await VerifyAsync(admin);

            Assert.False(result.GetProperty("intact").GetBoolean());
            Assert.Equal(second, result.GetProperty("firstBroken").GetProperty("id").GetInt64());
            Assert.Equal("broken_link", result.GetProperty("firstBroken").GetProperty("reason").GetString());
        }
        finally
        {
            // Without its two newest rows the chain is whole again, and the next writer links to what is left.
            await Execute(connection, "DELETE FROM audit_log WHERE target_type = 'test' AND target_id = $1", marker);
            await Execute(connection, "SELECT pg_advisory_unlock(hashtext('audit_log_chain'))");
        }

        Assert.True((await VerifyAsync(admin)).GetProperty("intact").GetBoolean());
    }

    [Fact]
    public async Task The_log_is_listed_newest_first_with_filters_and_a_cursor_for_administrators_only()
    {
        var (admin, _) = await factory.CreateAdminClientAsync();
        var (userClient, user) = await factory.CreateUserClientAsync();
        for (var i = 0; i < 3; i++)
        {
            using var failed = await factory.CreateClient().TokenAsync(user.Email, "wrong-password-123");
        }

        var path = $"/v1/admin/audit?action=auth.login_failed&targetId={user.Id}&limit=2";
        var first = await admin.GetFromJsonAsync<JsonElement>(path);
        var next = first.GetProperty("nextCursor").GetString();
        var second = await admin.GetFromJsonAsync<JsonElement>($"{path}&cursor={Uri.EscapeDataString(next!)}");
        using var forbidden = await userClient.GetAsync(path);
        using var badCursor = await admin.GetAsync("/v1/admin/audit?cursor=not-a-cursor");
        using var badLimit = await admin.GetAsync("/v1/admin/audit?limit=1000");

        var seqs = first.GetProperty("items").EnumerateArray().Concat(second.GetProperty("items").EnumerateArray())
            .Select(item => item.GetProperty("chainSeq").GetInt64()).ToList();
        Assert.Equal(3, seqs.Count);
        Assert.Equal(seqs.OrderDescending(), seqs);
        Assert.All(first.GetProperty("items").EnumerateArray(), item =>
        {
            Assert.Equal("auth.login_failed", item.GetProperty("action").GetString());
            Assert.Equal(64, item.GetProperty("hash").GetString()!.Length);
        });
        Assert.Equal(JsonValueKind.Null, second.GetProperty("nextCursor").ValueKind);
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        Assert.Equal(["cursor"], await badCursor.ReadValidationErrorKeysAsync());
        Assert.Equal(["limit"], await badLimit.ReadValidationErrorKeysAsync());
    }

    private static async Task<JsonElement> VerifyAsync(HttpClient admin)
    {
        using var response = await admin.PostAsync("/v1/admin/audit/verify", null);
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var connection = await factory.DataSource.OpenConnectionAsync();
        await Execute(connection, sql, parameters);
    }

    private static async Task Execute(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }

        await command.ExecuteNonQueryAsync();
    }

    private static async Task<T> Scalar<T>(NpgsqlConnection connection, string sql, params object[] parameters)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }

        return (T)(await command.ExecuteScalarAsync())!;
    }
}
