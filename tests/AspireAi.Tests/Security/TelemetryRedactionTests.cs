using System.Net;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Documents;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Memory;
using AspireAi.Tests.OpenAiCompat;
using AspireAi.ServiceDefaults;
using AspireAi.Workers.Documents;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Security;

/// <summary>
/// Logs and traces never carry message text, memory text, secrets or e-mail addresses unless content capture is on.
/// Every log record (all levels, state values, scopes, exceptions) and every span (tags, events, links, baggage) of the
/// Api, and of the Workers' job handlers run in process, is searched for values the test planted in every way a user
/// or an operator hands them over.
/// </summary>
[Collection(MemoryCollection.Name)]
public sealed partial class TelemetryRedactionTests(ApiFactory factory)
{
    [Fact]
    public async Task Planted_secrets_addresses_and_content_reach_no_log_record_and_no_span()
    {
        var tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var planted = new Planted(tag);
        using var capture = new TelemetryCapture();
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Auth:AllowRegistration"] = "true",
            // A provider key in configuration: the offline model never sends it, but it is part of the options.
            ["Llm:ApiKey"] = planted.ProviderKey,
            ["RateLimits:Enabled"] = "false",
            // Redis spans are built only where they are exported (Core/Redis/RedisExtensions); these must be checked too.
            ["Aspire:StackExchange:Redis:DisableTracing"] = "false",
        }).WithHost(builder => builder.ConfigureLogging(capture.AddTo));

        var issued = await DriveEverythingAsync(api, planted);

        Assert.True(capture.LogCount > 100 && capture.SpanCount > 20, $"Too little was captured to mean anything: {capture.LogCount} records, {capture.SpanCount} spans.");
        // One line per secret and place (log category and event, or span), with the first record that leaked it.
        var leaks = planted.All.Concat(issued)
            .SelectMany(secret => capture.Containing(secret.Value).Select(record => (Where: $"{secret.Name} in {Where(record)}", Record: record)))
            .GroupBy(leak => leak.Where, StringComparer.Ordinal)
            .Select(group => $"{group.Key} ({group.Count()}x), e.g. {Shorten(group.First().Record)}")
            .ToList();
        Assert.True(leaks.Count == 0, $"{leaks.Count} leak(s):\n{string.Join("\n", leaks)}");
    }

    [Fact]
    public async Task With_content_capture_switched_on_message_text_appears_but_secrets_still_do_not()
    {
        var tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var planted = new Planted(tag);
        using var capture = new TelemetryCapture();
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Llm:CaptureContent"] = "true",
            ["Llm:ApiKey"] = planted.ProviderKey,
            ["Aspire:StackExchange:Redis:DisableTracing"] = "false",
        }).WithHost(builder => builder.ConfigureLogging(capture.AddTo));
        var (client, user) = await api.CreateUserClientAsync();

        await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), planted.Message);

        // The switch is real: the model call's span and log carry the prompt.
        Assert.Contains(capture.Containing(planted.MessageMarker), r => r.StartsWith("span ", StringComparison.Ordinal));
        Assert.Contains(capture.Containing(planted.MessageMarker), r => r.StartsWith("log ", StringComparison.Ordinal));
        // Secrets are erased whatever the switch says.
        Assert.Empty(capture.Containing(planted.ProviderKey));
        Assert.Empty(capture.Containing(user.Password));
        Assert.Empty(capture.Containing(user.AccessToken));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void Classified_log_fields_are_erased_unless_content_capture_is_on_and_secrets_always_are(bool captureContent)
    {
        var tag = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6));
        var builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection([new(TelemetryRedaction.CaptureContentKey, captureContent ? "true" : "false")]);
        using var capture = new TelemetryCapture();
        capture.AddTo(builder.Logging);
        builder.AddTelemetryRedaction();
        using var host = builder.Build();
        var logger = host.Services.GetRequiredService<ILoggerFactory>().CreateLogger("RedactionSample");

        string email = $"person.{tag}@example.test", words = $"words{tag}", secret = $"secret{tag}", plain = $"plain{tag}";
        LogClassified(logger, email, words, secret, plain);

        var record = Assert.Single(capture.Records, r => r.Contains(nameof(LogClassified), StringComparison.Ordinal));
        Assert.Contains(plain, record, StringComparison.Ordinal);
        Assert.DoesNotContain(secret, record, StringComparison.Ordinal);
        Assert.Equal(captureContent, record.Contains(email, StringComparison.Ordinal));
        Assert.Equal(captureContent, record.Contains(words, StringComparison.Ordinal));
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Sample from {Email}: {Words} (key {Key}, id {Id})")]
    private static partial void LogClassified(ILogger logger, [PersonalData] string email, [UserContent] string words, [SecretData] string key, string id);

    // Registration, sign-in (right and wrong password), refresh, chat (JSON and streamed), memories, documents, searches,
    // an API key, the OpenAI-compatible endpoint; returns the secrets the Api issued along the way.
    private static async Task<List<(string Name, string Value)>> DriveEverythingAsync(ApiFactory api, Planted planted)
    {
        using var anonymous = api.CreateClient();
        using (var register = await anonymous.RegisterAsync(planted.Email, planted.Password, planted.DisplayName))
        {
            Assert.Equal(HttpStatusCode.Accepted, register.StatusCode);
        }

        using (var again = await anonymous.RegisterAsync(planted.Email, planted.Password, planted.DisplayName))
        {
            Assert.True(again.StatusCode is HttpStatusCode.Accepted or HttpStatusCode.Conflict, again.StatusCode.ToString());
        }

        using (var wrong = await anonymous.TokenAsync(planted.Email, planted.WrongPassword))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, wrong.StatusCode);
        }

        using (var unknown = await anonymous.TokenAsync(planted.UnknownEmail, planted.WrongPassword))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, unknown.StatusCode);
        }

        using var signIn = await anonymous.TokenAsync(planted.Email, planted.Password);
        var tokens = await signIn.ReadTokensAsync();
        using var refreshed = await anonymous.RefreshAsync(tokens.RefreshToken);
        var newTokens = await refreshed.ReadTokensAsync();
        using (var reused = await anonymous.RefreshAsync(tokens.RefreshToken))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, reused.StatusCode);
        }

        // The reused refresh token revoked the family; sign in again for the rest.
        using var signInAgain = await anonymous.TokenAsync(planted.Email, planted.Password);
        var session = await signInAgain.ReadTokensAsync();
        using var client = api.CreateClient();
        client.DefaultRequestHeaders.Authorization = new("Bearer", session.AccessToken);
        var userId = await api.ScalarAsync<Guid>("SELECT id FROM users WHERE email = $1", planted.Email);

        var conversation = await ChatTestData.CreateConversationAsync(client, planted.Title);
        await MemoryTestData.ChatAsync(client, conversation, planted.Message);
        using (var streamed = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = planted.SecondMessage })))
        {
            Assert.Equal(HttpStatusCode.OK, streamed.StatusCode);
            await streamed.Content.ReadAsStringAsync();
        }

        using (var found = await client.GetAsync($"/v1/conversations?q={Uri.EscapeDataString(planted.SearchText)}"))
        {
            Assert.Equal(HttpStatusCode.OK, found.StatusCode);
        }

        await MemoryTestData.PostMemoryAsync(client, new { text = planted.MemoryText, infer = false });
        await MemoryTestData.RunExtractionsAsync(api, userId);
        using (var memories = await client.PostAsJsonAsync("/v1/memories/search", new { query = planted.MemorySearch }))
        {
            Assert.Equal(HttpStatusCode.OK, memories.StatusCode);
        }

        var document = await DocumentsTestData.UploadTextAsync(client, planted.DocumentTitle, planted.DocumentText);
        var documentId = document.GetProperty("id").GetGuid();
        var job = await api.ScalarAsync<long>("SELECT id FROM jobs WHERE type = 'documents.ingest' AND payload->>'documentId' = $1", documentId.ToString());
        var payload = JsonElement.Parse((await api.ScalarAsync<string>("SELECT payload::text FROM jobs WHERE id = $1", job))!);
        await MemoryTestData.RunJobAsync<DocumentIngestionHandler>(api.Services, api.DataSource, payload, job);
        await DocumentsTestData.WaitUntilDoneAsync(client, documentId);
        using (var search = await client.PostAsJsonAsync("/v1/documents/search", new { query = planted.DocumentSearch }))
        {
            Assert.Equal(HttpStatusCode.OK, search.StatusCode);
        }

        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "telemetry", scopes = new[] { "chat", "memories:read" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var apiKey = (await created.ReadJsonAsync()).GetProperty("key").GetString()!;
        using (var withKey = await anonymous.GetWithBearerAsync("/v1/memories", apiKey))
        {
            Assert.Equal(HttpStatusCode.OK, withKey.StatusCode);
        }

        using (var badKey = await anonymous.GetWithBearerAsync("/v1/memories", planted.BogusKey))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, badKey.StatusCode);
        }

        using var compat = new HttpRequestMessage(HttpMethod.Post, "/v1/chat/completions")
        {
            Content = JsonContent.Create(new
            {
                model = OpenAiCompatTestData.ChatModel,
                user = planted.EndUserEmail,
                messages = new[] { new { role = "user", content = planted.CompatMessage } },
            }),
        };
        using (var completion = await anonymous.SendAsync(compat.WithBearer(apiKey)))
        {
            Assert.Equal(HttpStatusCode.OK, completion.StatusCode);
        }

        using (var logout = await client.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = session.RefreshToken }))
        {
            Assert.True(logout.IsSuccessStatusCode, logout.StatusCode.ToString());
        }

        return
        [
            ("access token", tokens.AccessToken), ("refresh token", tokens.RefreshToken), ("refreshed access token", newTokens.AccessToken),
            ("refreshed refresh token", newTokens.RefreshToken), ("session access token", session.AccessToken),
            ("session refresh token", session.RefreshToken), ("API key", apiKey), ("API key secret part", apiKey[13..]),
        ];
    }

    private static string Where(string record) => record[..Math.Max(0, record.IndexOf(": ", StringComparison.Ordinal))];

    private static string Shorten(string record) => (record.Length <= 300 ? record : record[..300] + "…").ReplaceLineEndings(" ");

    /// <summary>Values only this test run uses, each a way user data or a secret enters the system.</summary>
    private sealed class Planted(string tag)
    {
        public string Email { get; } = $"planted.{tag}@leak-test.example";
        public string UnknownEmail { get; } = $"nobody.{tag}@leak-test.example";
        public string EndUserEmail { get; } = $"end.user.{tag}@leak-test.example";
        public string Password { get; } = $"Pw-{tag}-horse-battery";
        public string WrongPassword { get; } = $"Wrong-{tag}-horse-battery";
        public string DisplayName { get; } = $"Name{tag}";
        public string ProviderKey { get; } = $"sk-provider{tag}";
        public string BogusKey { get; } = $"aai_{tag[..8]}_bogus{tag}bogus{tag}bogus";
        public string MessageMarker { get; } = $"Harbour{tag}";
        public string Message => $"I keep my bicycle at the {MessageMarker} garage.";
        public string SecondMessage { get; } = $"What is the weather like in Lumen{tag}?";
        public string Title { get; } = $"Title{tag}";
        public string SearchText { get; } = $"Find{tag}";
        public string MemoryText { get; } = $"Favourite tea is Oolong{tag}";
        public string MemorySearch { get; } = $"Which tea, Query{tag}?";
        public string DocumentTitle { get; } = $"Doc{tag}";
        public string DocumentText { get; } = $"The project codename is Zephyr{tag}. It ships in spring.";
        public string DocumentSearch { get; } = $"codename Seek{tag}";
        public string CompatMessage { get; } = $"Compat question Quartz{tag}?";

        public IEnumerable<(string Name, string Value)> All =>
        [
            ("e-mail", Email), ("unknown e-mail", UnknownEmail), ("end-user e-mail", EndUserEmail), ("password", Password),
            ("wrong password", WrongPassword), ("display name", DisplayName), ("provider key", ProviderKey), ("bogus API key", BogusKey),
            ("message text", MessageMarker), ("streamed message text", $"Lumen{tag}"), ("conversation title", Title),
            ("conversation search", SearchText), ("memory text", $"Oolong{tag}"), ("memory search", $"Query{tag}"),
            ("document title", DocumentTitle), ("document text", $"Zephyr{tag}"), ("document search", $"Seek{tag}"),
            ("OpenAI-compatible message", $"Quartz{tag}"),
        ];
    }
}
