using System.Text.Json;
using AspireAi.Core.Documents.Tools;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using AspireAi.Workers.Documents;

namespace AspireAi.Tests.Documents;

/// <summary>Tool-call arguments (what users searched for) leave the audit log after their retention; the rest of the row stays.</summary>
public sealed class ToolAuditRetentionTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Arguments_past_their_retention_are_cleared_and_the_audit_row_kept()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        var old = await InsertAsync(user.Id, """{"query":"my old search"}""", TimeSpan.FromDays(31));
        var recent = await InsertAsync(user.Id, """{"query":"my recent search"}""", TimeSpan.FromDays(1));

        await MemoryTestData.RunJobAsync<ToolAuditRetentionJob>(factory.Services, factory.DataSource, JsonElement.Parse("{}"));

        Assert.Equal((null, "search_documents"), await ReadAsync(old));
        Assert.Equal(("""{"query":"my recent search"}""", "search_documents"), await ReadAsync(recent));
    }

    private async Task<long> InsertAsync(Guid userId, string arguments, TimeSpan age)
    {
        await using var insert = factory.DataSource.CreateCommand("""
            INSERT INTO audit_log (at, actor_user_id, action, target_type, target_id, details, arguments)
            VALUES (now() - $2, $1, 'tool.called', 'tool', 'search_documents', '{"outcome":"ok","resultChars":10}', $3)
            RETURNING id
            """);
        insert.Parameters.Add(new() { Value = userId });
        insert.Parameters.Add(new() { Value = age });
        insert.Parameters.Add(new() { Value = arguments });
        return (long)(await insert.ExecuteScalarAsync())!;
    }

    private async Task<(string? Arguments, string Target)> ReadAsync(long id)
    {
        await using var select = factory.DataSource.CreateCommand("SELECT arguments, target_id FROM audit_log WHERE id = $1");
        select.Parameters.Add(new() { Value = id });
        await using var reader = await select.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        return (reader.IsDBNull(0) ? null : reader.GetString(0), reader.GetString(1));
    }
}
