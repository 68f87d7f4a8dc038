using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Identity;
using AspireAi.Tests.Infrastructure;
using Npgsql;

namespace AspireAi.Tests.Documents;

/// <summary>The documents HTTP surface: uploads, validation, scopes, ownership, listing, deletion, batches.</summary>
public sealed class DocumentsApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_json_upload_is_accepted_queued_and_becomes_ready_with_chunks_vectors_and_the_model_name()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using var response = await client.PostAsJsonAsync("/v1/documents", new
        {
            title = "Boat manual",
            text = "# Engine\n\nThe outboard engine needs two-stroke oil. Mix it at fifty to one.\n\n# Sails\n\nThe mainsail is reefed from the cockpit.",
            tags = new[] { "Boat", "manual" },
        });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var id = accepted.GetProperty("id").GetGuid();
        Assert.Equal("queued", accepted.GetProperty("status").GetString());
        Assert.False(accepted.GetProperty("duplicate").GetBoolean());
        Assert.Equal($"/v1/documents/{id}", response.Headers.Location?.OriginalString);

        var document = await DocumentsTestData.WaitUntilDoneAsync(client, id);
        Assert.Equal("ready", document.GetProperty("status").GetString());
        Assert.Equal("Boat manual", document.GetProperty("title").GetString());
        Assert.Equal("user", document.GetProperty("scope").GetString());
        Assert.Equal(["boat", "manual"], document.GetProperty("tags").EnumerateArray().Select(t => t.GetString()));
        Assert.Equal(2, document.GetProperty("chunkCount").GetInt32());
        Assert.Equal("all-MiniLM-L6-v2", document.GetProperty("embeddingModel").GetString());
        Assert.True(document.GetProperty("canDelete").GetBoolean());

        // Each chunk carries its vector (384 wide), its text encrypted with its blind index (the keyed tokens of its
        // words), heading, and the model that embedded it.
        var tokens = await TestCipher.For(factory.DataSource).TokensAsync(user.OrgId, "engine mainsail", CancellationToken.None);
        Assert.Equal(2, await DocumentsTestData.CountAsync(factory.DataSource, """
            SELECT count(*) FROM document_chunks
            WHERE document_id = $1 AND scope_key = $2 AND embedding_model = 'all-MiniLM-L6-v2' AND vector_dims(embedding) = 384
              AND content IS NULL AND key_id IS NOT NULL AND content_bi && $3 AND heading IN ('Engine', 'Sails')
            """, id, user.Id, tokens));
        var chunks = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}/chunks");
        var items = chunks.GetProperty("items").EnumerateArray().ToList();
        Assert.Equal(["Engine", "Sails"], items.Select(c => c.GetProperty("heading").GetString()));
        var chunk = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}/chunks/{items[1].GetProperty("id").GetGuid()}");
        Assert.Equal("The mainsail is reefed from the cockpit.", chunk.GetProperty("content").GetString());
        // The upload is audited without its content.
        Assert.Equal(1, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action = 'document.uploaded' AND target_id = $2", user.Id, id.ToString()));
    }

    [Fact]
    public async Task A_multipart_file_upload_takes_its_format_from_the_name_and_its_title_from_the_file_name()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var response = await DocumentsTestData.UploadFileAsync(client, "notes.md",
            Encoding.UTF8.GetBytes("Plain notes about [the harbour](https://example.com/harbour) and its **tides**."), "application/octet-stream",
            new Dictionary<string, string> { ["tags"] = "a, b" });
        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();

        var document = await DocumentsTestData.WaitUntilDoneAsync(client, id);
        Assert.Equal(("ready", "md", "notes.md", "notes.md"), (document.GetProperty("status").GetString(), document.GetProperty("format").GetString(),
            document.GetProperty("fileName").GetString(), document.GetProperty("title").GetString()));
        var chunks = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}/chunks");
        // Markdown syntax and link targets are gone; the words stay. The URL was never fetched, only dropped.
        Assert.Equal("Plain notes about the harbour and its tides.", chunks.GetProperty("items")[0].GetProperty("content").GetString());
    }

    [Fact]
    public async Task Identical_content_in_the_same_scope_returns_the_existing_document_and_other_scopes_get_their_own()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var (other, _) = await factory.CreateUserClientAsync();
        var text = $"Deduplicated content {Guid.NewGuid()}.";

        var first = await DocumentsTestData.UploadTextAsync(client, "One", text);
        var id = first.GetProperty("id").GetGuid();
        await DocumentsTestData.WaitUntilDoneAsync(client, id);
        var again = await DocumentsTestData.UploadTextAsync(client, "Another title", text, expected: HttpStatusCode.OK);
        var elsewhere = await DocumentsTestData.UploadTextAsync(other, "One", text);

        Assert.Equal(id, again.GetProperty("id").GetGuid());
        Assert.True(again.GetProperty("duplicate").GetBoolean());
        Assert.Equal(("ready", "One"), (again.GetProperty("status").GetString(), again.GetProperty("title").GetString()));
        Assert.NotEqual(id, elsewhere.GetProperty("id").GetGuid());
        Assert.Equal(1, await DocumentsTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task Org_scope_needs_an_admin_is_read_by_the_org_and_deleted_only_by_an_admin()
    {
        var (userClient, user) = await factory.CreateUserClientAsync();
        var (adminClient, _) = await factory.CreateAdminClientAsync();

        using (var refused = await userClient.PostAsJsonAsync("/v1/documents", new { title = "x", text = "Shared text.", scope = "org" }))
        {
            Assert.Equal(HttpStatusCode.Forbidden, refused.StatusCode);
            Assert.Equal("application/problem+json", refused.Content.Headers.ContentType?.MediaType);
        }

        Assert.Equal(0, await DocumentsTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));

        var code = DocumentsTestData.Unique("ORG");
        var shared = await DocumentsTestData.IngestTextAsync(adminClient, "Org handbook", $"The organisation wifi passphrase is {code}.", "org");
        var id = shared.GetProperty("id").GetGuid();
        try
        {
            var seen = await userClient.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}");
            Assert.Equal(("org", false), (seen.GetProperty("scope").GetString(), seen.GetProperty("canDelete").GetBoolean()));
            var search = await SearchAsync(userClient, $"wifi passphrase {code}");
            Assert.Contains(id, Hits(search));
            using var forbidden = await userClient.DeleteAsync($"/v1/documents/{id}");
            Assert.Equal(HttpStatusCode.Forbidden, forbidden.StatusCode);
        }
        finally
        {
            using var deleted = await adminClient.DeleteAsync($"/v1/documents/{id}");
            Assert.Equal(HttpStatusCode.NoContent, deleted.StatusCode);
        }
    }

    [Fact]
    public async Task Another_users_documents_are_not_found_on_every_endpoint_and_never_searched()
    {
        var (owner, _) = await factory.CreateUserClientAsync();
        var (intruder, intruderUser) = await factory.CreateUserClientAsync();
        var (foreign, _) = await CreateUserInOwnOrgAsync();
        var code = DocumentsTestData.Unique("OWN");
        var document = await DocumentsTestData.IngestTextAsync(owner, "Private diary", $"My locker combination is {code}. Keep it secret.");
        var id = document.GetProperty("id").GetGuid();
        var chunkId = (await owner.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}/chunks")).GetProperty("items")[0].GetProperty("id").GetGuid();
        var batch = await owner.PostAsJsonAsync("/v1/documents/bulk", new { documents = new[] { new { title = "b", text = $"Batch {code}." } } });
        var batchId = (await batch.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("batchId").GetGuid();

        foreach (var client in new[] { intruder, foreign })
        {
            foreach (var path in new[] { $"/v1/documents/{id}", $"/v1/documents/{id}/chunks", $"/v1/documents/{id}/chunks/{chunkId}", $"/v1/documents/batches/{batchId}" })
            {
                using var response = await client.GetAsync(path);
                Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
                Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
            }

            using (var delete = await client.DeleteAsync($"/v1/documents/{id}"))
            {
                Assert.Equal(HttpStatusCode.NotFound, delete.StatusCode);
            }

            var list = await client.GetFromJsonAsync<JsonElement>("/v1/documents?limit=100");
            Assert.DoesNotContain(id, list.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()));
            var search = await SearchAsync(client, $"locker combination {code}");
            Assert.DoesNotContain(id, Hits(search));
            var targeted = await client.PostAsJsonAsync("/v1/documents/search", new { query = "locker combination", documentIds = new[] { id } });
            Assert.Empty((await targeted.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("results").EnumerateArray());
        }

        // Still there for its owner; nothing was deleted.
        Assert.Contains(id, Hits(await SearchAsync(owner, $"locker combination {code}")));
        Assert.Equal(0, await DocumentsTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM audit_log WHERE actor_user_id = $1 AND action = 'document.deleted'", intruderUser.Id));
    }

    [Fact]
    public async Task Delete_removes_the_document_its_source_chunks_and_embeddings()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var document = await DocumentsTestData.IngestTextAsync(client, "Temporary", "Sentence one. Sentence two.");
        var id = document.GetProperty("id").GetGuid();

        using var response = await client.DeleteAsync($"/v1/documents/{id}");

        Assert.Equal(HttpStatusCode.NoContent, response.StatusCode);
        Assert.Equal(0, await DocumentsTestData.CountAsync(factory.DataSource, """
            SELECT (SELECT count(*) FROM documents WHERE id = $1) + (SELECT count(*) FROM document_sources WHERE document_id = $1)
                 + (SELECT count(*) FROM document_chunks WHERE document_id = $1)
            """, id));
        using var again = await client.GetAsync($"/v1/documents/{id}");
        Assert.Equal(HttpStatusCode.NotFound, again.StatusCode);
    }

    [Fact]
    public async Task The_list_is_paginated_with_a_cursor_and_filters_by_status_and_tag()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var ids = new List<Guid>();
        for (var i = 0; i < 5; i++)
        {
            ids.Add((await DocumentsTestData.UploadTextAsync(client, $"Doc {i}", $"Text number {i} {Guid.NewGuid()}.", tags: i % 2 == 0 ? ["even"] : null))
                .GetProperty("id").GetGuid());
        }

        var seen = new List<Guid>();
        string? cursor = null;
        do
        {
            // Only the user's own: documents other tests share with the (common) organisation also list here.
            var page = await client.GetFromJsonAsync<JsonElement>("/v1/documents?scope=user&limit=2" + (cursor is null ? "" : $"&cursor={cursor}"));
            seen.AddRange(page.GetProperty("items").EnumerateArray().Select(d => d.GetProperty("id").GetGuid()));
            cursor = page.GetProperty("nextCursor").GetString();
        }
        while (cursor is not null);

        Assert.Equal(Enumerable.Reverse(ids), seen);
        var even = await client.GetFromJsonAsync<JsonElement>("/v1/documents?scope=user&tag=even");
        Assert.Equal(3, even.GetProperty("items").GetArrayLength());
        using var bad = await client.GetAsync("/v1/documents?status=bogus&cursor=%%%&limit=0");
        Assert.Equal(HttpStatusCode.BadRequest, bad.StatusCode);
        var problem = await bad.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["cursor", "limit", "status"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order());
    }

    [Fact]
    public async Task A_bulk_upload_reports_progress_per_status_until_every_document_is_done()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var marker = Guid.NewGuid().ToString("N");
        var documents = Enumerable.Range(0, 8).Select(i => new { title = $"Bulk {i}", text = $"Bulk document {i} of batch {marker}." })
            .Append(new { title = "Bulk 0 again", text = $"Bulk document 0 of batch {marker}." })
            .ToArray();

        using var response = await client.PostAsJsonAsync("/v1/documents/bulk", new { documents });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        var batchId = accepted.GetProperty("batchId").GetGuid();
        Assert.Equal(9, accepted.GetProperty("total").GetInt32());
        var items = accepted.GetProperty("documents").EnumerateArray().ToList();
        Assert.Equal(items[0].GetProperty("id").GetGuid(), items[8].GetProperty("id").GetGuid());
        Assert.True(items[8].GetProperty("duplicate").GetBoolean());

        JsonElement progress;
        var deadline = DateTime.UtcNow + DocumentsTestData.Timeout;
        await DocumentsTestData.WorkersAsync();
        do
        {
            progress = await client.GetFromJsonAsync<JsonElement>($"/v1/documents/batches/{batchId}");
            Assert.Equal(9, progress.GetProperty("counts").EnumerateObject().Sum(c => c.Value.GetInt32()));
            Assert.True(DateTime.UtcNow < deadline, "the batch did not complete");
            await Task.Delay(100);
        }
        while (!progress.GetProperty("completed").GetBoolean());

        Assert.Equal(9, progress.GetProperty("counts").GetProperty("ready").GetInt32());
        Assert.Equal(0, progress.GetProperty("counts").GetProperty("failed").GetInt32());
    }

    [Fact]
    public async Task A_bulk_multipart_upload_takes_several_files_and_too_many_documents_are_refused()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes($"First file {Guid.NewGuid()}.")), "files", "a.txt");
            form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes($"<html><body><p>Second file {Guid.NewGuid()}.</p></body></html>")), "files", "b.html");
            using var response = await client.PostAsync("/v1/documents/bulk", form);
            Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
            Assert.Equal(2, (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("total").GetInt32());
        }

        var tooMany = Enumerable.Range(0, 101).Select(i => new { title = $"t{i}", text = $"text {i}" }).ToArray();
        using var refused = await client.PostAsJsonAsync("/v1/documents/bulk", new { documents = tooMany });
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("at most 100", problem.GetProperty("errors").GetProperty("documents")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(2, await DocumentsTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    public static TheoryData<string, string, string> InvalidJson() => new()
    {
        { """{"title":"t","text":""}""", "text", "must not be empty" },
        { """{"title":"t","text":"   "}""", "text", "must not be empty" },
        { """{"title":"t"}""", "text", "must not be empty" },
        { """{"title":"t","text":"x","scope":"world"}""", "scope", "'user'" },
        { """{"title":"t","text":"x","format":"docx"}""", "format", "multipart" },
        { $$"""{"title":"{{new string('t', 301)}}","text":"x"}""", "title", "300" },
        { """{"title":"t","text":"x","tags":["a","b","c","d","e","f","g","h","i","j","k","l","m","n","o","p","q","r","s","t","u"]}""", "tags", "20" },
    };

    [Theory]
    [MemberData(nameof(InvalidJson))]
    public async Task Invalid_json_uploads_are_a_400_naming_the_field_and_nothing_is_written(string json, string field, string message)
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using var response = await client.PostAsync("/v1/documents", new StringContent(json, Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        var errors = problem.GetProperty("errors").EnumerateObject().ToList();
        Assert.Equal([field], errors.Select(e => e.Name));
        Assert.Contains(message, errors[0].Value[0].GetString(), StringComparison.Ordinal);
        await AssertNothingWrittenAsync(user.Id);
    }

    [Fact]
    public async Task Malformed_json_and_multipart_mistakes_are_400s_and_nothing_is_written()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using (var malformed = await client.PostAsync("/v1/documents", new StringContent("""{"title": "unterminated""", Encoding.UTF8, "application/json")))
        {
            Assert.Equal(HttpStatusCode.BadRequest, malformed.StatusCode);
            Assert.Equal("application/problem+json", malformed.Content.Headers.ContentType?.MediaType);
        }

        using (var empty = await DocumentsTestData.UploadFileAsync(client, "empty.txt", []))
        {
            Assert.Equal(HttpStatusCode.BadRequest, empty.StatusCode);
            Assert.Contains("empty", (await empty.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("file")[0].GetString(), StringComparison.Ordinal);
        }

        using (var form = new MultipartFormDataContent { { new StringContent("just a field"), "title" } })
        using (var noFile = await client.PostAsync("/v1/documents", form))
        {
            Assert.Equal(HttpStatusCode.BadRequest, noFile.StatusCode);
            Assert.Contains("'file'", (await noFile.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").GetProperty("file")[0].GetString(), StringComparison.Ordinal);
        }

        using (var form = new MultipartFormDataContent())
        {
            form.Add(new ByteArrayContent([65]), "file", "a.txt");
            form.Add(new ByteArrayContent([66]), "file", "b.txt");
            using var two = await client.PostAsync("/v1/documents", form);
            Assert.Equal(HttpStatusCode.BadRequest, two.StatusCode);
        }

        await AssertNothingWrittenAsync(user.Id);
    }

    [Theory]
    [InlineData("txt", "Meeting notes for March\n\nWe agreed to move the launch.", "Meeting notes for March")]
    [InlineData("md", "Some intro text.\n\n# Harbour *guide*\n\nThe tide turns at noon.", "Harbour guide")]
    [InlineData("html", "<html><head><title>Rota &amp; shifts</title></head><body><p>Anna: Monday.</p></body></html>", "Rota & shifts")]
    [InlineData("txt", "\n\n   The first line of this note goes on and on well past any sensible length for a title in a list view.\nSecond line.",
        "The first line of this note goes on and on well past any sensible length for a…")]
    public async Task A_json_upload_without_a_title_is_named_after_its_own_title_or_first_line(string format, string text, string title)
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var unique = $"{text}\n\nUnique {Guid.NewGuid():N}.";
        using var response = await client.PostAsJsonAsync("/v1/documents", new { text = unique, format });

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var accepted = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(title, accepted.GetProperty("title").GetString());
        Assert.True(title.Length <= 80);
        var document = await DocumentsTestData.WaitUntilDoneAsync(client, accepted.GetProperty("id").GetGuid());
        Assert.Equal(("ready", title), (document.GetProperty("status").GetString(), document.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task A_null_entry_in_a_json_bulk_upload_is_a_400_naming_it_and_nothing_is_written()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using var response = await client.PostAsync("/v1/documents/bulk",
            new StringContent("""{"documents":[{"title":"ok","text":"Fine text."},null]}""", Encoding.UTF8, "application/json"));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var errors = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors").EnumerateObject().ToList();
        Assert.Equal(["documents[1]"], errors.Select(e => e.Name));
        Assert.Contains("null", errors[0].Value[0].GetString(), StringComparison.Ordinal);
        await AssertNothingWrittenAsync(user.Id);
    }

    [Fact]
    public async Task Control_characters_in_a_file_name_are_cleaned_before_they_reach_the_database()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        // Written by hand: HttpClient would encode the name, and a browser or curl sends the bytes as they are.
        const string boundary = "nul-boundary";
        var body = Encoding.UTF8.GetBytes(
            $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"bad\0na\u0001me.txt\"\r\nContent-Type: text/plain\r\n\r\n"
            + $"Text of a file with a strange name {Guid.NewGuid()}.\r\n--{boundary}--\r\n");
        using var content = new ByteArrayContent(body);
        content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");

        using var response = await client.PostAsync("/v1/documents", content);

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var id = (await response.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("id").GetGuid();
        var document = await DocumentsTestData.WaitUntilDoneAsync(client, id);
        Assert.Equal(("ready", "badname.txt", "badname.txt"),
            (document.GetProperty("status").GetString(), document.GetProperty("fileName").GetString(), document.GetProperty("title").GetString()));
    }

    [Fact]
    public async Task Form_count_and_field_length_limits_are_400s_naming_the_limit_not_the_upload_size()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using (var form = new MultipartFormDataContent())
        {
            // 164 = 64 fields around the files + Documents:MaxBulkDocuments (100).
            for (var i = 0; i < 170; i++)
            {
                form.Add(new StringContent($"tag{i}"), "tags");
            }

            form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes("Text.")), "file", "a.txt");
            using var many = await client.PostAsync("/v1/documents", form);
            Assert.Equal(HttpStatusCode.BadRequest, many.StatusCode);
            var detail = (await many.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString();
            Assert.Contains("more than 164 fields", detail, StringComparison.Ordinal);
            Assert.DoesNotContain("upload limit", detail, StringComparison.Ordinal);
        }

        using (var form = new MultipartFormDataContent())
        {
            for (var i = 0; i < 170; i++)
            {
                form.Add(new ByteArrayContent(Encoding.UTF8.GetBytes($"File {i}.")), "files", $"f{i}.txt");
            }

            using var files = await client.PostAsync("/v1/documents/bulk", form);
            Assert.Equal(HttpStatusCode.BadRequest, files.StatusCode);
            Assert.DoesNotContain("upload limit", await files.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        }

        // The reader's structural limits (here 16 headers per part) are a malformed body, named by the framework.
        const string boundary = "many-headers";
        var headers = string.Concat(Enumerable.Range(0, 20).Select(i => $"X-Extra-{i}: {i}\r\n"));
        using (var content = new ByteArrayContent(Encoding.UTF8.GetBytes(
            $"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"a.txt\"\r\n{headers}\r\nText.\r\n--{boundary}--\r\n")))
        {
            content.Headers.ContentType = MediaTypeHeaderValue.Parse($"multipart/form-data; boundary={boundary}");
            using var manyHeaders = await client.PostAsync("/v1/documents", content);
            Assert.Equal(HttpStatusCode.BadRequest, manyHeaders.StatusCode);
            Assert.Contains("headers count limit", (await manyHeaders.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(),
                StringComparison.Ordinal);
        }

        using (var longField = await DocumentsTestData.UploadFileAsync(client, "a.txt", Encoding.UTF8.GetBytes("Text."),
            fields: new Dictionary<string, string> { ["title"] = new string('t', 20_000) }))
        {
            // A long field is within the multipart size limit: its own validation names it.
            Assert.Equal(HttpStatusCode.BadRequest, longField.StatusCode);
            var errors = (await longField.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
            Assert.Contains("300", errors.GetProperty("title")[0].GetString(), StringComparison.Ordinal);
        }

        await AssertNothingWrittenAsync(user.Id);
    }

    [Theory]
    [InlineData("slides.pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation")]
    [InlineData("photo.png", "image/png")]
    [InlineData("noextension", "application/octet-stream")]
    public async Task Unsupported_formats_are_a_415_naming_the_supported_ones(string fileName, string contentType)
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using var response = await DocumentsTestData.UploadFileAsync(client, fileName, [1, 2, 3], contentType);

        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("txt, md, html, docx, pdf", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        await AssertNothingWrittenAsync(user.Id);
    }

    [Fact]
    public async Task A_body_that_is_neither_multipart_nor_json_is_a_415()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var response = await client.PostAsync("/v1/documents", new StringContent("plain text body", Encoding.UTF8, "text/plain"));
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
    }

    [Fact]
    public async Task Oversized_uploads_are_a_413_problem_with_the_limit_and_nothing_is_written()
    {
        using var small = factory.WithSettings(new Dictionary<string, string?> { ["Documents:MaxUploadBytes"] = "1000" });
        var (client, user) = await small.CreateUserClientAsync();

        using (var json = await client.PostAsJsonAsync("/v1/documents", new { title = "big", text = new string('a', 1500) }))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, json.StatusCode);
            Assert.Equal("application/problem+json", json.Content.Headers.ContentType?.MediaType);
            Assert.Contains("1000 bytes", (await json.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        // Within the request allowance but over the file limit: refused while the form is read.
        using (var file = await DocumentsTestData.UploadFileAsync(client, "big.txt", RandomNumberGenerator.GetBytes(1500).Select(b => (byte)('a' + (b % 26))).ToArray()))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, file.StatusCode);
            Assert.Equal("application/problem+json", file.Content.Headers.ContentType?.MediaType);
        }

        // Far over: refused from the Content-Length before the body is read.
        using (var huge = await DocumentsTestData.UploadFileAsync(client, "huge.txt", new byte[200_000]))
        {
            Assert.Equal(HttpStatusCode.RequestEntityTooLarge, huge.StatusCode);
            Assert.Equal("application/problem+json", huge.Content.Headers.ContentType?.MediaType);
        }

        await AssertNothingWrittenAsync(user.Id);
    }

    [Fact]
    public async Task Search_validates_its_request()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        using var response = await client.PostAsJsonAsync("/v1/documents/search", new { query = " ", topK = 500, scope = "everyone" });
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal(["query", "scope", "topK"], problem.GetProperty("errors").EnumerateObject().Select(p => p.Name).Order());
    }

    [Fact]
    public async Task Endpoints_require_authentication()
    {
        using var anonymous = factory.CreateClient();
        using var response = await anonymous.GetAsync("/v1/documents");
        Assert.Equal(HttpStatusCode.Unauthorized, response.StatusCode);
    }

    private async Task AssertNothingWrittenAsync(Guid userId) =>
        Assert.Equal(0, await DocumentsTestData.CountAsync(factory.DataSource, """
            SELECT (SELECT count(*) FROM documents WHERE owner_user_id = $1)
                 + (SELECT count(*) FROM jobs WHERE type = 'documents.ingest' AND payload->>'documentId' IN (SELECT id::text FROM documents WHERE owner_user_id = $1))
            """, userId));

    internal static async Task<JsonElement> SearchAsync(HttpClient client, string query)
    {
        using var response = await client.PostAsJsonAsync("/v1/documents/search", new { query, topK = 10 });
        response.EnsureSuccessStatusCode();
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    internal static IEnumerable<Guid> Hits(JsonElement search) =>
        search.GetProperty("results").EnumerateArray().Select(r => r.GetProperty("documentId").GetGuid());

    // A user in an organisation of its own: ApiFactory's users all share the default organisation.
    private async Task<(HttpClient Client, Guid UserId)> CreateUserInOwnOrgAsync()
    {
        var orgId = Guid.CreateVersion7();
        var userId = Guid.CreateVersion7();
        var email = ApiFactory.NewEmail("foreign");
        var password = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12));
        await using (var connection = await factory.DataSource.OpenConnectionAsync())
        await using (var batch = new NpgsqlBatch(connection))
        {
            var org = new NpgsqlBatchCommand("INSERT INTO orgs (id, name) VALUES ($1, $2)");
            org.Parameters.Add(new() { Value = orgId });
            org.Parameters.Add(new() { Value = $"org-{orgId:N}" });
            var user = new NpgsqlBatchCommand("INSERT INTO users (id, org_id, email, display_name, password_hash, role) VALUES ($1, $2, $3, 'Foreign', $4, 'admin')");
            user.Parameters.Add(new() { Value = userId });
            user.Parameters.Add(new() { Value = orgId });
            user.Parameters.Add(new() { Value = email });
            user.Parameters.Add(new() { Value = AdminSeeder.HashPassword(password) });
            batch.BatchCommands.Add(org);
            batch.BatchCommands.Add(user);
            await batch.ExecuteNonQueryAsync();
        }

        var client = factory.CreateClient();
        using var token = await client.PostAsJsonAsync("/v1/auth/token", new { email, password });
        token.EnsureSuccessStatusCode();
        var accessToken = (await token.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("accessToken").GetString();
        client.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        return (client, userId);
    }
}
