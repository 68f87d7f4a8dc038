using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Tests.Documents;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Web;

// The documents pages against the real Api and an in-process Workers host: upload (file through Web's streaming
// endpoint, pasted text), status, delete, and the chunk pages chat citations link to.
public sealed partial class DocumentPagesTests(WebStackFixture stack) : IClassFixture<WebStackFixture>
{
    private const string UploadPath = "/app/documents";

    [Fact]
    public async Task A_text_file_uploaded_through_the_page_is_ingested_and_listed_as_ready_with_its_chunks()
    {
        await DocumentsTestData.WorkersAsync();
        var (browser, api, user) = await stack.SignInAsync();
        using var _ = browser;
        var text = "Otters hold hands while they sleep so they do not drift apart. " + string.Join(' ', Enumerable.Repeat("Kelp forests shelter them.", 5));

        using var response = await UploadAsync(browser, "otters.txt", Encoding.UTF8.GetBytes(text), title: "Otter facts");

        var id = await UploadedIdAsync(browser, response);
        var document = await DocumentsTestData.WaitUntilDoneAsync(api, id);
        Assert.Equal(("ready", "Otter facts", "txt"), (document.GetProperty("status").GetString(), document.GetProperty("title").GetString(),
            document.GetProperty("format").GetString()));
        var chunkCount = document.GetProperty("chunkCount").GetInt32();
        Assert.True(chunkCount > 0);

        var html = await browser.GetPageAsync($"/documents?uploaded={id}");
        var row = Row(html, id);
        Assert.Contains("data-status=\"ready\"", row, StringComparison.Ordinal);
        Assert.Contains("Otter facts", row, StringComparison.Ordinal);
        Assert.Matches($"data-testid=\"document-chunks\">{chunkCount}<", row);
        Assert.Contains("class=\"document-row highlighted\"", row, StringComparison.Ordinal);
        Assert.Matches("data-testid=\"upload-notice\"[^>]*>\\s*<span>“Otter facts” was uploaded", html);
        Assert.DoesNotContain("http-equiv=\"refresh\"", html, StringComparison.Ordinal);
        Assert.Equal(1, await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task Pasted_text_becomes_a_document_and_a_second_identical_upload_is_the_existing_one()
    {
        await DocumentsTestData.WorkersAsync();
        var (browser, api, user) = await stack.SignInAsync();
        using var _ = browser;
        var text = $"Lighthouse keepers logged the weather every four hours. {DocumentsTestData.Unique("LOG")}";
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/documents"));

        using var pasted = await browser.PostFormAsync("/documents", token,
            [new("_handler", "paste-text"), new("Paste.Title", "Keeper's log"), new("Paste.Text", text)]);

        var id = await UploadedIdAsync(browser, pasted);
        var document = await DocumentsTestData.WaitUntilDoneAsync(api, id);
        Assert.Equal(("ready", "Keeper's log"), (document.GetProperty("status").GetString(), document.GetProperty("title").GetString()));

        // The same text again, now as a file: the Api answers with the document it already has.
        using var again = await UploadAsync(browser, "log.txt", Encoding.UTF8.GetBytes(text));

        Assert.Equal(HttpStatusCode.SeeOther, again.StatusCode);
        Assert.Equal($"/documents?uploaded={id}&duplicate=true", browser.LocationOf(again));
        var html = await browser.GetPageAsync(browser.LocationOf(again));
        Assert.Matches("data-testid=\"upload-notice\"[^>]*>\\s*<span>“Keeper&#x27;s log” is already in your documents", html);
        Assert.Contains("class=\"document-row highlighted\"", Row(html, id), StringComparison.Ordinal);
        Assert.Equal(1, await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task Pasting_nothing_keeps_the_form_with_a_message_and_stores_nothing()
    {
        var (browser, _, user) = await stack.SignInAsync();
        using var __ = browser;
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/documents"));

        using var response = await browser.PostFormAsync("/documents", token,
            [new("_handler", "paste-text"), new("Paste.Title", "Blank"), new("Paste.Text", "")]);

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var html = await response.Content.ReadAsStringAsync();
        Assert.Contains("Paste the text to add.", html, StringComparison.Ordinal);
        Assert.Matches("data-testid=\"paste-title\"[^>]*value=\"Blank\"|value=\"Blank\"[^>]*data-testid=\"paste-title\"", html);
        Assert.Equal(0, await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task A_malformed_docx_is_listed_as_failed_with_the_reason()
    {
        await DocumentsTestData.WorkersAsync();
        var (browser, api, _) = await stack.SignInAsync();
        using var __ = browser;

        using var response = await UploadAsync(browser, "broken.docx", Encoding.UTF8.GetBytes("this is not a word document"));

        var id = await UploadedIdAsync(browser, response);
        var document = await DocumentsTestData.WaitUntilDoneAsync(api, id);
        Assert.Equal("failed", document.GetProperty("status").GetString());
        var reason = document.GetProperty("failureReason").GetString()!;
        var row = Row(await browser.GetPageAsync("/documents"), id);
        Assert.Contains("data-status=\"failed\"", row, StringComparison.Ordinal);
        Assert.Contains($"data-testid=\"document-failure\">{WebUtility.HtmlEncode(reason)}<", row, StringComparison.Ordinal);
        var details = await browser.GetPageAsync($"/documents/{id}");
        Assert.Contains($"data-testid=\"document-failure\">{WebUtility.HtmlEncode(reason)}<", details, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("program.exe", "MZ-not-a-document", "is not a supported format")]
    [InlineData("empty.txt", "", "&#x27;empty.txt&#x27; is empty.")]
    public async Task A_refused_file_comes_back_to_the_page_with_the_apis_message_and_nothing_is_stored(string fileName, string content, string message)
    {
        var (browser, _, user) = await stack.SignInAsync();
        using var __ = browser;

        using var response = await UploadAsync(browser, fileName, Encoding.UTF8.GetBytes(content));

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Equal("/documents", browser.LocationOf(response));
        var html = await browser.GetPageAsync("/documents");
        Assert.True(UploadError(html).Contains(message, StringComparison.Ordinal), UploadError(html));
        // Shown once: a reload does not repeat it.
        Assert.DoesNotContain("data-testid=\"upload-error\"", await browser.GetPageAsync("/documents"), StringComparison.Ordinal);
        Assert.Equal(0, await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task Submitting_without_choosing_a_file_asks_for_one()
    {
        var (browser, _, user) = await stack.SignInAsync();
        using var __ = browser;
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/documents"));
        // What a browser sends for an empty file input: a file part with an empty name and no content.
        var noFile = new ByteArrayContent([]);
        noFile.Headers.ContentDisposition = new ContentDispositionHeaderValue("form-data") { Name = "\"file\"", FileName = "\"\"" };
        noFile.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using var form = new MultipartFormDataContent
        {
            { new StringContent(token), "__RequestVerificationToken" },
            { new StringContent("No file"), "title" },
            noFile,
        };

        using var response = await browser.Http.PostAsync(UploadPath, form);

        Assert.Equal(HttpStatusCode.SeeOther, response.StatusCode);
        Assert.Contains("Choose a file to upload.", UploadError(await browser.GetPageAsync("/documents")), StringComparison.Ordinal);
        Assert.Equal(0, await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task An_upload_without_the_antiforgery_token_is_refused_and_nothing_is_stored()
    {
        var (browser, _, user) = await stack.SignInAsync();
        using var __ = browser;
        await browser.GetPageAsync("/documents");

        using var missing = await UploadAsync(browser, "csrf.txt", "Planted text."u8.ToArray(), token: null);
        using var forged = await UploadAsync(browser, "csrf.txt", "Planted text."u8.ToArray(), token: "not-a-token");

        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Contains("antiforgery", await missing.Content.ReadAsStringAsync(), StringComparison.OrdinalIgnoreCase);
        Assert.Equal(0, await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task Delete_on_the_page_removes_the_document_and_its_chunks()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var __ = browser;
        var keep = (await DocumentsTestData.IngestTextAsync(api, "Keep", "Penguins propose with pebbles.")).GetProperty("id").GetGuid();
        var remove = (await DocumentsTestData.IngestTextAsync(api, "Remove", "Seahorse fathers carry the eggs.")).GetProperty("id").GetGuid();
        Assert.True(await ChunkRowsAsync(remove) > 0);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/documents"));

        using var response = await browser.PostFormAsync("/documents", token, [new("_handler", "delete-document"), new("DeleteId", remove.ToString())]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal("/documents?deleted=true", browser.LocationOf(response));
        using var gone = await api.GetAsync($"/v1/documents/{remove}");
        Assert.Equal(HttpStatusCode.NotFound, gone.StatusCode);
        Assert.Equal(0, await ChunkRowsAsync(remove));
        using var kept = await api.GetAsync($"/v1/documents/{keep}");
        Assert.Equal(HttpStatusCode.OK, kept.StatusCode);
        var html = await browser.GetPageAsync(browser.LocationOf(response));
        Assert.Contains("data-testid=\"delete-notice\"", html, StringComparison.Ordinal);
        Assert.DoesNotContain(remove.ToString(), html, StringComparison.Ordinal);
        Assert.Contains(keep.ToString(), html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_chunk_page_shows_the_cited_passage_and_is_not_found_for_another_user()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var __ = browser;
        var document = await DocumentsTestData.IngestTextAsync(api, "Tides <b>& moons</b>",
            "# Spring tides\nSpring tides happen when the sun and the moon line up. <script>alert(1)</script>");
        var id = document.GetProperty("id").GetGuid();
        var chunks = await api.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}/chunks");
        var chunk = chunks.GetProperty("items")[0];
        var chunkId = chunk.GetProperty("id").GetGuid();

        var details = await browser.GetPageAsync($"/documents/{id}");
        Assert.Contains($"href=\"documents/{id:D}/chunks/{chunkId:D}\"", details, StringComparison.Ordinal);
        Assert.Contains("Tides &lt;b&gt;&amp; moons&lt;/b&gt;", details, StringComparison.Ordinal);

        var html = await browser.GetPageAsync($"/documents/{id}/chunks/{chunkId}");
        Assert.Contains($"data-testid=\"chunk-text\">{WebUtility.HtmlEncode(chunk.GetProperty("content").GetString())}</blockquote>", html.Replace("&#x27;", "'", StringComparison.Ordinal), StringComparison.Ordinal);
        Assert.Contains("&lt;script&gt;alert(1)&lt;/script&gt;", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script>alert(1)", html, StringComparison.Ordinal);
        Assert.Matches("data-testid=\"chunk-heading\">Spring tides<", html);
        Assert.Matches($"data-testid=\"chunk-position\">\\s*Passage 1 of {document.GetProperty("chunkCount").GetInt32()}", html);
        Assert.Contains($"href=\"documents/{id:D}\" data-testid=\"chunk-document-link\"", html, StringComparison.Ordinal);

        var (stranger, _, _) = await stack.SignInAsync();
        using var ___ = stranger;
        foreach (var path in new[] { $"/documents/{id}", $"/documents/{id}/chunks/{chunkId}", $"/documents/{id}/chunks/{Guid.NewGuid()}" })
        {
            using var response = await stranger.Http.GetAsync(path);
            var body = await response.Content.ReadAsStringAsync();
            Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
            Assert.Contains("data-testid=\"not-found\"", body, StringComparison.Ordinal);
            Assert.DoesNotContain("Spring tides", body, StringComparison.Ordinal);
        }

        Assert.DoesNotContain(id.ToString(), await stranger.GetPageAsync("/documents"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task The_page_refreshes_itself_only_while_a_document_is_being_ingested()
    {
        var (browser, api, _) = await stack.SignInAsync();
        using var __ = browser;
        var id = (await DocumentsTestData.IngestTextAsync(api, "Settled", "Narwhal tusks are teeth.")).GetProperty("id").GetGuid();

        Assert.DoesNotContain("http-equiv=\"refresh\"", await browser.GetPageAsync("/documents"), StringComparison.Ordinal);
        Assert.DoesNotContain("http-equiv=\"refresh\"", await browser.GetPageAsync($"/documents/{id}"), StringComparison.Ordinal);

        // A worker mid-way through it, as the pages see it.
        await using (var command = stack.Api.DataSource.CreateCommand("UPDATE documents SET status = 'embedding' WHERE id = $1"))
        {
            command.Parameters.Add(new() { Value = id });
            await command.ExecuteNonQueryAsync();
        }

        var pending = await browser.GetPageAsync("/documents");
        Assert.Matches("<meta http-equiv=\"refresh\" content=\"3\"", pending);
        Assert.Contains("data-status=\"embedding\"", Row(pending, id), StringComparison.Ordinal);
        Assert.Matches("<meta http-equiv=\"refresh\" content=\"3\"", await browser.GetPageAsync($"/documents/{id}"));
    }

    [Fact]
    public async Task An_api_error_is_shown_on_the_page()
    {
        var (browser, _, _) = await stack.SignInAsync();
        using var __ = browser;

        var html = await browser.GetPageAsync("/documents?cursor=not-a-cursor");

        Assert.Matches("data-testid=\"error\"[^>]*>\\s*<span class=\"notice-message\">[^<]+</span>", html);
        Assert.Contains("data-testid=\"upload-form\"", html, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_admin_can_upload_to_the_organisation_and_a_user_is_not_offered_the_scope()
    {
        var (admin, adminApi, _) = await stack.SignInAsync("admin");
        using var _ = admin;
        var (user, _, _) = await stack.SignInAsync();
        using var __ = user;
        Assert.DoesNotContain("data-testid=\"upload-scope\"", await user.GetPageAsync("/documents"), StringComparison.Ordinal);
        Assert.Contains("data-testid=\"upload-scope\"", await admin.GetPageAsync("/documents"), StringComparison.Ordinal);

        using var response = await UploadAsync(admin, "handbook.md", Encoding.UTF8.GetBytes($"# Handbook\nLunch is at noon. {DocumentsTestData.Unique("H")}"),
            scope: "org");

        var id = await UploadedIdAsync(admin, response);
        var document = await adminApi.GetFromJsonAsync<JsonElement>($"/v1/documents/{id}");
        Assert.Equal("org", document.GetProperty("scope").GetString());
        Assert.Contains("data-testid=\"document-scope\">Organisation<", Row(await admin.GetPageAsync("/documents"), id), StringComparison.Ordinal);
        await using var cleanup = stack.Api.DataSource.CreateCommand("DELETE FROM documents WHERE id = $1");
        cleanup.Parameters.Add(new() { Value = id });
        await cleanup.ExecuteNonQueryAsync();
    }

    [Fact]
    public async Task Oversized_files_come_back_with_a_clear_message_and_nothing_is_stored()
    {
        // The Api takes 4 KB, Web lets 16 KB through: one file for each limit to refuse.
        await using var small = new WebStackFixture(
            new Dictionary<string, string?> { ["Documents:MaxUploadBytes"] = "4096" },
            new Dictionary<string, string?> { ["Web:Documents:MaxUploadBytes"] = "16384" });
        await small.InitializeAsync();
        var (browser, _, user) = await small.SignInAsync();
        using var _ = browser;

        using (var overWeb = await UploadAsync(browser, "big.txt", Encoding.UTF8.GetBytes(new string('a', 200_000))))
        {
            Assert.Equal(HttpStatusCode.SeeOther, overWeb.StatusCode);
            Assert.Equal("/documents", browser.LocationOf(overWeb));
            Assert.Contains("&#x27;big.txt&#x27; is larger than the upload limit of 16 KB.", UploadError(await browser.GetPageAsync("/documents")), StringComparison.Ordinal);
        }

        // Without a Content-Length Web only finds out while streaming, and stops at its limit.
        using (var chunked = await UploadAsync(browser, "chunked.txt", Encoding.UTF8.GetBytes(new string('b', 20_000)), chunked: true))
        {
            Assert.Equal(HttpStatusCode.SeeOther, chunked.StatusCode);
            Assert.Contains("&#x27;chunked.txt&#x27; is larger than the upload limit of 16 KB.", UploadError(await browser.GetPageAsync("/documents")), StringComparison.Ordinal);
        }

        using (var overApi = await UploadAsync(browser, "medium.txt", Encoding.UTF8.GetBytes(new string('c', 8_000))))
        {
            Assert.Equal(HttpStatusCode.SeeOther, overApi.StatusCode);
            var error = UploadError(await browser.GetPageAsync("/documents"));
            Assert.True(error.Contains("exceeds the upload limit of 4 KB (Documents:MaxUploadBytes)", StringComparison.Ordinal), error);
        }

        Assert.Equal(0, await DocumentsTestData.CountAsync(small.Api.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));

        // And a file within both limits still goes through on the same connection pool.
        using var fits = await UploadAsync(browser, "fits.txt", "Small enough."u8.ToArray());
        await UploadedIdAsync(browser, fits);
    }

    private static async Task<HttpResponseMessage> UploadAsync(WebBrowser browser, string fileName, byte[] content, string? title = null,
        string? scope = null, string? token = "", bool chunked = false)
    {
        // Like the page's form: the token first, the file last.
        token = token == string.Empty ? WebBrowser.AntiforgeryToken(await browser.GetPageAsync("/documents")) : token;
        var form = new MultipartFormDataContent();
        if (token is not null)
        {
            form.Add(new StringContent(token), "__RequestVerificationToken");
        }

        form.Add(new StringContent(title ?? ""), "title");
        if (scope is not null)
        {
            form.Add(new StringContent(scope), "scope");
        }

        HttpContent file = chunked ? new StreamContent(new UnknownLengthStream(content)) : new ByteArrayContent(content);
        file.Headers.ContentType = new MediaTypeHeaderValue(fileName.EndsWith(".txt", StringComparison.Ordinal) ? "text/plain" : "application/octet-stream");
        form.Add(file, "file", fileName);
        using var request = new HttpRequestMessage(HttpMethod.Post, UploadPath) { Content = form };
        if (chunked)
        {
            request.Headers.TransferEncodingChunked = true;
        }

        return await browser.Http.SendAsync(request);
    }

    private static async Task<Guid> UploadedIdAsync(WebBrowser browser, HttpResponseMessage response)
    {
        Assert.True(response.StatusCode is HttpStatusCode.SeeOther or HttpStatusCode.Redirect, $"Upload: {(int)response.StatusCode}");
        var location = browser.LocationOf(response);
        var match = UploadedLocation().Match(location);
        if (!match.Success)
        {
            // Back on the page with a problem: say which.
            var html = await browser.GetPageAsync(location);
            Assert.Fail($"Upload redirected to {location}: {UploadErrorBlock().Match(html).Value}");
        }

        return Guid.Parse(match.Groups["id"].Value);
    }

    private static string Row(string html, Guid id)
    {
        var match = Regex.Match(html, $"<tr[^>]*data-document-id=\"{id}\".*?</tr>", RegexOptions.Singleline);
        Assert.True(match.Success, $"Document {id} is not listed.");
        return match.Value;
    }

    private static string UploadError(string html)
    {
        var match = UploadErrorBlock().Match(html);
        Assert.True(match.Success, "The page shows no upload error.");
        return match.Value;
    }

    private async Task<long> ChunkRowsAsync(Guid documentId) =>
        await DocumentsTestData.CountAsync(stack.Api.DataSource, "SELECT count(*) FROM document_chunks WHERE document_id = $1", documentId);

    [GeneratedRegex("^/documents\\?uploaded=(?<id>[0-9a-f-]{36})$")]
    private static partial Regex UploadedLocation();

    [GeneratedRegex("data-testid=\"upload-error\">.*?</div>\\s*</div>", RegexOptions.Singleline)]
    private static partial Regex UploadErrorBlock();

    // A body HttpClient cannot measure, so it is sent chunked.
    private sealed class UnknownLengthStream(byte[] content) : MemoryStream(content)
    {
        public override bool CanSeek => false;
    }
}
