using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Encryption;
using AspireAi.Tests.Infrastructure;
using Npgsql;

namespace AspireAi.Tests.Chat;

internal static class ChatTestData
{
    public static async Task<Guid> CreateConversationAsync(HttpClient client, string? title = null)
    {
        using var response = await client.PostAsJsonAsync("/v1/conversations", new { title });
        response.EnsureSuccessStatusCode();
        return (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
    }

    public static HttpRequestMessage SendRequest(Guid conversationId, object body, bool stream = true)
    {
        var request = new HttpRequestMessage(HttpMethod.Post, $"/v1/conversations/{conversationId}/messages")
        {
            Content = JsonContent.Create(body),
        };
        request.Headers.Accept.ParseAdd(stream ? "text/event-stream" : "application/json");
        return request;
    }

    public static async Task<List<(string Role, string Status, string Content, long Sequence)>> MessagesAsync(NpgsqlDataSource dataSource, Guid conversationId)
    {
        await using var command = dataSource.CreateCommand(
            "SELECT role, status, content, key_id, content_ct, sequence FROM messages WHERE conversation_id = $1 ORDER BY sequence");
        command.Parameters.Add(new() { Value = conversationId });
        var rows = new List<(string, string, string, long)>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add((reader.GetString(0), reader.GetString(1), (await TestCipher.OpenAsync(dataSource, reader, 2, EncryptedField.MessageContent))!, reader.GetInt64(5)));
        }
        return rows;
    }

    public static async Task<long> CountAsync(NpgsqlDataSource dataSource, string sql, params object[] parameters)
    {
        await using var command = dataSource.CreateCommand(sql);
        foreach (var p in parameters)
        {
            command.Parameters.Add(new() { Value = p });
        }
        return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
    }
}
