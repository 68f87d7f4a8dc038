using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Encryption;
using AspireAi.Core.Jobs;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Documents;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using AspireAi.Workers.Encryption;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.Security;

/// <summary>
/// Encryption at rest: message, memory and chunk text are ciphertext in Postgres and plain text to their owner, keyword
/// search works through the blind index, a byte changed with SQL is refused, each organisation has its own keys, and
/// the rotation job re-encrypts in batches (and re-wraps under a new master key) with everything still readable.
/// Each test works in an organisation of its own, so rotating its keys or altering its rows touches no other test.
/// </summary>
public sealed class EncryptionAtRestTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task Memories_messages_and_chunks_are_ciphertext_in_postgres_and_plain_text_through_the_api()
    {
        await DocumentsTestData.WorkersAsync();
        var (client, user) = await factory.CreateUserClientAsync(orgName: NewOrg());

        var memory = await MemoryTestData.PostMemoryAsync(client, new { text = "Collects vintage typewriters from Zagreb", infer = false });
        var memoryId = memory.GetProperty("memory").GetProperty("id").GetGuid();
        var conversation = await ChatTestData.CreateConversationAsync(client);
        await MemoryTestData.ChatAsync(client, conversation, "My zebra is called Quintessa and she loves carrots");
        var document = await DocumentsTestData.IngestTextAsync(client, "Lighthouse log",
            "The keeper of the Skerryvore lighthouse logged a marmalade shipment every Thursday.");
        var documentId = document.GetProperty("id").GetGuid();

        // The rows hold ciphertext under a key of the user's organisation, and a blind index, never the words.
        var memoryRow = await RowAsync("SELECT text, key_id, text_ct, text_bi FROM memories WHERE id = $1", memoryId);
        AssertSealed(memoryRow, user.OrgId, "typewriters", "Zagreb");
        await using (var history = factory.DataSource.CreateCommand(
            "SELECT old_text, new_text, key_id, new_text_ct FROM memory_history WHERE memory_id = $1"))
        {
            history.Parameters.Add(new() { Value = memoryId });
            await using var reader = await history.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.IsDBNull(0) && reader.IsDBNull(1));
            Assert.False(Contains(reader.GetFieldValue<byte[]>(3), "typewriters"));
        }
        var messageRows = await RowsAsync("SELECT content, key_id, content_ct, content_bi FROM messages WHERE conversation_id = $1 ORDER BY sequence", conversation);
        Assert.Equal(2, messageRows.Count);
        AssertSealed(messageRows[0], user.OrgId, "Quintessa", "zebra");
        await using (var preview = factory.DataSource.CreateCommand(
            "SELECT last_message_preview, preview_key_id, last_message_preview_ct FROM conversations WHERE id = $1"))
        {
            preview.Parameters.Add(new() { Value = conversation });
            await using var reader = await preview.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            Assert.True(reader.IsDBNull(0));
            Assert.False(reader.IsDBNull(1));
            Assert.False(Contains(reader.GetFieldValue<byte[]>(2), "Quintessa"));
        }
        var chunkRows = await RowsAsync("SELECT content, key_id, content_ct, content_bi FROM document_chunks WHERE document_id = $1", documentId);
        Assert.NotEmpty(chunkRows);
        Assert.All(chunkRows, row => AssertSealed(row, user.OrgId, "Skerryvore", "marmalade"));

        // The owner reads plain text everywhere: the memory, its history, the conversation, the chunks, the search.
        var read = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{memoryId}");
        Assert.Equal("Collects vintage typewriters from Zagreb", read.GetProperty("text").GetString());
        var history2 = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{memoryId}/history");
        Assert.Contains(history2.GetProperty("items").EnumerateArray(), h => h.GetProperty("newText").GetString() == "Collects vintage typewriters from Zagreb");
        var export = await MemoryTestData.GetJsonAsync(client, "/v1/memories/export");
        Assert.Contains(export.GetProperty("memories").EnumerateArray(), m => m.GetProperty("text").GetString() == "Collects vintage typewriters from Zagreb");
        var messages = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}/messages");
        Assert.Contains(messages.GetProperty("items").EnumerateArray(),
            m => m.GetProperty("content").GetString() == "My zebra is called Quintessa and she loves carrots");
        var listed = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}");
        var reply = messages.GetProperty("items").EnumerateArray().First(m => m.GetProperty("role").GetString() == "assistant").GetProperty("content").GetString()!;
        Assert.Equal(reply.Length > 200 ? reply[..200] : reply, listed.GetProperty("lastMessagePreview").GetString());
        var chunks = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{documentId}/chunks");
        Assert.Contains("Skerryvore", chunks.GetProperty("items")[0].GetProperty("content").GetString(), StringComparison.Ordinal);

        // Keyword searches over ciphertext: a conversation by a word of a message, a document by its rare words.
        var found = await client.GetFromJsonAsync<JsonElement>("/v1/conversations?search=quintessa");
        Assert.Contains(found.GetProperty("items").EnumerateArray(), c => c.GetProperty("id").GetGuid() == conversation);
        using var search = await client.PostAsJsonAsync("/v1/documents/search", new { query = "Skerryvore marmalade", documentIds = new[] { documentId } });
        var hits = await search.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        var hit = hits.GetProperty("results")[0];
        Assert.True(hit.GetProperty("fullTextMatch").GetBoolean(), hits.GetRawText());
        Assert.NotEqual(JsonValueKind.Null, hit.GetProperty("textRank").ValueKind);
    }

    [Fact]
    public async Task Keyword_search_finds_an_encrypted_memory_by_one_of_its_words()
    {
        var (client, _) = await factory.CreateUserClientAsync(orgName: NewOrg());
        var posted = await MemoryTestData.PostMemoryAsync(client, new { text = "Plays the theremin in a jazz quartet", infer = false });
        var id = posted.GetProperty("memory").GetProperty("id").GetGuid();
        await MemoryTestData.PostMemoryAsync(client, new { text = "Owns a red bicycle", infer = false });

        using var response = await client.PostAsJsonAsync("/v1/memories/search", new { query = "theremin", explain = true });
        var body = await response.Content.ReadFromJsonAsync<JsonElement>();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var match = Assert.Single(body.GetProperty("items").EnumerateArray(), i => i.GetProperty("id").GetGuid() == id);
        Assert.Equal("Plays the theremin in a jazz quartet", match.GetProperty("text").GetString());
        // Found by the keyword leg (the blind index), not only by its vector.
        Assert.Equal(1, match.GetProperty("explain").GetProperty("keywordRank").GetInt32());
        Assert.Equal(1.0, match.GetProperty("explain").GetProperty("keywordRaw").GetDouble(), 3);
    }

    [Fact]
    public async Task A_ciphertext_changed_with_SQL_fails_authentication_with_a_clear_error()
    {
        var (client, _) = await factory.CreateUserClientAsync(orgName: NewOrg());
        var posted = await MemoryTestData.PostMemoryAsync(client, new { text = "Keeps bees on the roof", infer = false });
        var id = posted.GetProperty("memory").GetProperty("id").GetGuid();
        var original = await factory.ScalarAsync<byte[]>("SELECT text_ct FROM memories WHERE id = $1", id);

        await ExecuteAsync("UPDATE memories SET text_ct = set_byte(text_ct, 20, get_byte(text_ct, 20) # 1) WHERE id = $1", id);
        try
        {
            using var response = await client.GetAsync($"/v1/memories/{id}");
            var problem = await response.Content.ReadFromJsonAsync<JsonElement>();

            Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
            Assert.Equal("Stored data failed its integrity check", problem.GetProperty("title").GetString());
            Assert.Contains($"row {id} failed authentication", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
            Assert.DoesNotContain("bees", problem.GetRawText(), StringComparison.Ordinal);

            var cipher = factory.Services.GetRequiredService<FieldCipher>();
            await using var command = factory.DataSource.CreateCommand("SELECT text, key_id, text_ct FROM memories WHERE id = $1");
            command.Parameters.Add(new() { Value = id });
            await using var reader = await command.ExecuteReaderAsync();
            Assert.True(await reader.ReadAsync());
            var stored = new StoredText(reader.GetGuid(1), reader.GetFieldValue<byte[]>(2), null);
            var error = await Assert.ThrowsAsync<EncryptedDataException>(async () => await cipher.OpenAsync(stored, EncryptedField.MemoryText, id, CancellationToken.None));
            Assert.Contains("failed authentication", error.Message, StringComparison.Ordinal);
            // The same bytes moved to another column are refused too: the column is bound into the ciphertext.
            await Assert.ThrowsAsync<EncryptedDataException>(async () =>
                await cipher.OpenAsync(new StoredText(stored.KeyId, original, null), EncryptedField.MessageContent, id, CancellationToken.None));
        }
        finally
        {
            await ExecuteAsync("UPDATE memories SET text_ct = $2 WHERE id = $1", id, original!);
        }
        Assert.Equal("Keeps bees on the roof", (await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{id}")).GetProperty("text").GetString());
    }

    [Fact]
    public async Task Two_organisations_have_different_data_keys_and_cannot_open_each_others_text()
    {
        var (alice, aliceUser) = await factory.CreateUserClientAsync(orgName: NewOrg());
        var (bob, bobUser) = await factory.CreateUserClientAsync(orgName: NewOrg());
        var a = (await MemoryTestData.PostMemoryAsync(alice, new { text = "Speaks fluent Basque", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();
        var b = (await MemoryTestData.PostMemoryAsync(bob, new { text = "Speaks fluent Basque", infer = false }))
            .GetProperty("memory").GetProperty("id").GetGuid();

        var aliceKey = await factory.ScalarAsync<Guid>("SELECT key_id FROM memories WHERE id = $1", a);
        var bobKey = await factory.ScalarAsync<Guid>("SELECT key_id FROM memories WHERE id = $1", b);
        Assert.NotEqual(aliceKey, bobKey);
        Assert.Equal(aliceUser.OrgId, await factory.ScalarAsync<Guid>("SELECT org_id FROM data_keys WHERE id = $1", aliceKey));
        Assert.Equal(bobUser.OrgId, await factory.ScalarAsync<Guid>("SELECT org_id FROM data_keys WHERE id = $1", bobKey));
        // The same text has different blind-index tokens in the two organisations (keyed per organisation).
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM memories x, memories y WHERE x.id = $1 AND y.id = $2 AND x.text_bi && y.text_bi", a, b));

        var keys = factory.Services.GetRequiredService<DataKeyStore>();
        var bobsKey = await keys.GetAsync(bobKey, CancellationToken.None);
        var aliceCiphertext = await factory.ScalarAsync<byte[]>("SELECT text_ct FROM memories WHERE id = $1", a);
        Assert.Throws<EncryptedDataException>(() => FieldCipher.Open(bobsKey, aliceCiphertext!, EncryptedField.MemoryText, a));
        // Neither sees the other's memory through the API.
        using var intrusion = await bob.GetAsync($"/v1/memories/{a}");
        Assert.Equal(HttpStatusCode.NotFound, intrusion.StatusCode);
    }

    [Fact]
    public async Task Rotation_reencrypts_rows_in_batches_while_they_stay_readable_and_is_audited()
    {
        var org = NewOrg();
        var (client, user) = await factory.CreateUserClientAsync(orgName: org);
        var (admin, adminUser) = await factory.CreateAdminClientAsync();
        string[] texts = ["Grows chillies on a balcony", "Runs half marathons in autumn", "Reads Portuguese poetry", "Restores old harmoniums"];
        var ids = new List<Guid>();
        foreach (var text in texts)
        {
            ids.Add((await MemoryTestData.PostMemoryAsync(client, new { text, infer = false })).GetProperty("memory").GetProperty("id").GetGuid());
        }
        var oldKey = await factory.ScalarAsync<Guid>("SELECT key_id FROM memories WHERE id = $1", ids[0]);
        // A message written before encryption existed: plain, no key. It still reads, and the rotation encrypts it.
        var conversation = await ChatTestData.CreateConversationAsync(client);
        await ExecuteAsync("""
            INSERT INTO messages (id, conversation_id, sequence, role, content, status) VALUES (gen_random_uuid(), $1, 1, 'user', 'An old plain note about walruses', 'complete')
            """, conversation);
        var before = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}/messages");
        Assert.Equal("An old plain note about walruses", before.GetProperty("items")[0].GetProperty("content").GetString());

        using var rejected = await admin.PostAsJsonAsync("/v1/admin/encryption/rotations", new { mode = "reencrypt", batchSize = 0 });
        Assert.Equal(HttpStatusCode.BadRequest, rejected.StatusCode);
        var errors = (await rejected.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.True(errors.TryGetProperty("batchSize", out _) || errors.TryGetProperty("BatchSize", out _), errors.GetRawText());
        using var forbidden = await client.PostAsJsonAsync("/v1/admin/encryption/rotations", new { mode = "reencrypt", orgId = user.OrgId });
        Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);

        using var accepted = await admin.PostAsJsonAsync("/v1/admin/encryption/rotations", new { mode = "reencrypt", orgId = user.OrgId, batchSize = 2 });
        Assert.Equal(HttpStatusCode.Accepted, accepted.StatusCode);
        var jobId = (await accepted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("jobId").GetInt64();
        using var second = await admin.PostAsJsonAsync("/v1/admin/encryption/rotations", new { mode = "reencrypt", orgId = user.OrgId });
        Assert.Equal(HttpStatusCode.Conflict, second.StatusCode);

        // Run the chain of jobs one by one, as the Workers do; the data is read between batches.
        var batches = 0;
        while (await NextRotationJobAsync() is { } job)
        {
            await MemoryTestData.RunJobAsync<KeyRotationHandler>(factory.Services, factory.DataSource, job.Payload, job.Id);
            batches++;
            Assert.True(batches < 100, "The rotation did not finish within 100 jobs.");
            var midway = await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{ids[batches % ids.Count]}");
            Assert.Equal(texts[batches % ids.Count], midway.GetProperty("text").GetString());
        }

        // A setup job, then batches of two: at least two for the four memories and two for their history.
        Assert.True(batches >= 6, $"{batches} jobs");
        var newKey = await factory.ScalarAsync<Guid>("SELECT id FROM data_keys WHERE org_id = $1 AND purpose = 'data' AND retired_at IS NULL", user.OrgId);
        Assert.NotEqual(oldKey, newKey);
        Assert.NotNull(await factory.ScalarAsync<DateTime?>("SELECT retired_at FROM data_keys WHERE id = $1", oldKey));
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM memories WHERE user_id = $1 AND key_id IS DISTINCT FROM $2", user.Id, newKey));
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM memory_history WHERE owner_user_id = $1 AND key_id IS DISTINCT FROM $2", user.Id, newKey));
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM messages WHERE conversation_id = $1 AND (key_id IS DISTINCT FROM $2 OR content IS NOT NULL)", conversation, newKey));
        var walrus = await RowAsync("SELECT content, key_id, content_ct, content_bi FROM messages WHERE conversation_id = $1 AND sequence = 1", conversation);
        AssertSealed(walrus, user.OrgId, "walruses", "plain");

        for (var i = 0; i < ids.Count; i++)
        {
            Assert.Equal(texts[i], (await MemoryTestData.GetJsonAsync(client, $"/v1/memories/{ids[i]}")).GetProperty("text").GetString());
        }
        var after = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{conversation}/messages");
        Assert.Equal("An old plain note about walruses", after.GetProperty("items")[0].GetProperty("content").GetString());
        Assert.Contains((await client.GetFromJsonAsync<JsonElement>("/v1/conversations?search=walruses")).GetProperty("items").EnumerateArray(),
            c => c.GetProperty("id").GetGuid() == conversation);
        using var search = await client.PostAsJsonAsync("/v1/memories/search", new { query = "harmoniums", explain = true });
        var hit = (await search.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("items").EnumerateArray().Single(h => h.GetProperty("id").GetGuid() == ids[3]);
        Assert.Equal(1, hit.GetProperty("explain").GetProperty("keywordRank").GetInt32());

        // Requested and completed, by the same administrator, in the hash-chained audit log.
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'encryption.rotation_requested' AND actor_user_id = $1 AND target_id = $2 AND details->>'jobId' = $3",
            adminUser.Id, user.OrgId.ToString(), jobId.ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var completed = await factory.ScalarAsync<string>(
            "SELECT details::text FROM audit_log WHERE action = 'encryption.rotation_completed' AND actor_user_id = $1 AND target_id = $2",
            adminUser.Id, user.OrgId.ToString());
        var details = JsonDocument.Parse(completed!).RootElement;
        Assert.True(long.Parse(details.GetProperty("rowsReencrypted").GetString()!, System.Globalization.CultureInfo.InvariantCulture) >= 4 + 4 + 1);

        async Task<(long Id, JsonElement Payload)?> NextRotationJobAsync()
        {
            await using var command = factory.DataSource.CreateCommand("""
                SELECT id, payload::text FROM jobs WHERE type = 'encryption.rotate' AND status = 'queued' AND payload->>'orgId' = $1 ORDER BY id LIMIT 1
                """);
            command.Parameters.Add(new() { Value = user.OrgId.ToString() });
            await using var reader = await command.ExecuteReaderAsync();
            return await reader.ReadAsync() ? (reader.GetInt64(0), JsonDocument.Parse(reader.GetString(1)).RootElement.Clone()) : null;
        }
    }

    [Fact]
    public async Task Rewrap_moves_every_data_key_to_the_new_master_key_and_the_old_one_is_then_not_needed()
    {
        // A database of its own: re-wrapping the shared one would strand the other tests' hosts on the old master key.
        var postgres = await TestServers.StartPrivatePostgresAsync();
        await using var dataSource = NpgsqlDataSource.Create(postgres.ConnectionString);
        var orgId = Guid.CreateVersion7();
        await using (var org = dataSource.CreateCommand("INSERT INTO orgs (id, name) VALUES ($1, 'rewrap')"))
        {
            org.Parameters.Add(new() { Value = orgId });
            await org.ExecuteNonQueryAsync();
        }
        var oldMaster = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var newMaster = Convert.ToBase64String(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32));
        var before = Cipher(dataSource, oldMaster);
        var stored = await before.Cipher.SealAsync(orgId, EncryptedField.MemoryText, "Prefers window seats", CancellationToken.None);
        var tokens = await before.Cipher.TokensAsync(orgId, "window", CancellationToken.None);

        var during = Cipher(dataSource, newMaster, oldMaster);
        await using (var connection = await dataSource.OpenConnectionAsync())
        await using (var transaction = await connection.BeginTransactionAsync())
        {
            Assert.Equal(1, await during.Keys.RewrapAsync(connection, transaction, 1, CancellationToken.None));
            Assert.Equal(1, await during.Keys.RewrapAsync(connection, transaction, 10, CancellationToken.None));
            Assert.Equal(0, await during.Keys.RewrapAsync(connection, transaction, 10, CancellationToken.None));
            await transaction.CommitAsync();
        }

        // With only the new master key: the text opens and the index key gives the same tokens.
        var after = Cipher(dataSource, newMaster);
        Assert.Equal("Prefers window seats", await after.Cipher.OpenAsync(stored, EncryptedField.MemoryText, "test", CancellationToken.None));
        Assert.Equal(tokens, await after.Cipher.TokensAsync(orgId, "window", CancellationToken.None));
        // With only the old one, the keys no longer unwrap, and the error says which master key is missing.
        var stale = Cipher(dataSource, oldMaster);
        var error = await Assert.ThrowsAsync<EncryptedDataException>(async () =>
            await stale.Cipher.OpenAsync(stored, EncryptedField.MemoryText, "test", CancellationToken.None));
        Assert.Contains("Encryption:PreviousMasterKeys", error.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(null, "Encryption:MasterKey is not set")]
    [InlineData("c2hvcnQta2V5", "must be base64 of exactly 32 bytes")]
    public async Task A_missing_or_short_master_key_stops_the_host_with_a_clear_message(string? key, string message)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Production });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["Encryption:MasterKey"] = key });
        builder.AddEncryption();
        using var host = builder.Build();

        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        Assert.Equal(typeof(EncryptionOptions), error.OptionsType);
        Assert.Contains(message, error.Message, StringComparison.Ordinal);
    }

    private static string NewOrg() => $"enc-{Guid.NewGuid():N}";

    private static (FieldCipher Cipher, DataKeyStore Keys) Cipher(NpgsqlDataSource dataSource, string master, params string[] previous)
    {
        var options = Options.Create(new EncryptionOptions { MasterKey = master, PreviousMasterKeys = [.. previous] });
        var keys = new DataKeyStore(dataSource, new MasterKeyRing(options), options, TimeProvider.System);
        return (new FieldCipher(keys, options), keys);
    }

    private sealed record SealedRow(string? Plain, Guid? KeyId, byte[]? Ciphertext, byte[][]? Index);

    private void AssertSealed(SealedRow row, Guid orgId, params string[] words)
    {
        Assert.Null(row.Plain);
        Assert.NotNull(row.KeyId);
        Assert.NotNull(row.Ciphertext);
        Assert.NotEmpty(row.Index!);
        foreach (var word in words)
        {
            Assert.False(Contains(row.Ciphertext!, word), $"The ciphertext holds '{word}'.");
            Assert.All(row.Index!, token => Assert.False(Contains(token, word)));
        }
        Assert.Equal(orgId, factory.ScalarAsync<Guid>("SELECT org_id FROM data_keys WHERE id = $1", row.KeyId!.Value).GetAwaiter().GetResult());
    }

    private static bool Contains(byte[] haystack, string word) =>
        haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(word)) >= 0 || haystack.AsSpan().IndexOf(Encoding.UTF8.GetBytes(word.ToLowerInvariant())) >= 0;

    private async Task<SealedRow> RowAsync(string sql, Guid id) => Assert.Single(await RowsAsync(sql, id));

    private async Task<List<SealedRow>> RowsAsync(string sql, Guid id)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        command.Parameters.Add(new() { Value = id });
        var rows = new List<SealedRow>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            rows.Add(new SealedRow(reader.IsDBNull(0) ? null : reader.GetString(0), reader.IsDBNull(1) ? null : reader.GetGuid(1),
                reader.IsDBNull(2) ? null : reader.GetFieldValue<byte[]>(2), reader.IsDBNull(3) ? null : reader.GetFieldValue<byte[][]>(3)));
        }
        return rows;
    }

    private async Task ExecuteAsync(string sql, params object[] parameters)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new() { Value = parameter });
        }
        await command.ExecuteNonQueryAsync();
    }
}
