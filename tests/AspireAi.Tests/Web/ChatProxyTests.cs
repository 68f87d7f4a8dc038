using System.Net;
using System.Net.ServerSentEvents;
using System.Text.Json;

namespace AspireAi.Tests.Web;

// POST /app/conversations/{id}/stream: the browser's only way to the Api's SSE stream.
public sealed class ChatProxyTests(WebAppFixture web) : IClassFixture<WebAppFixture>
{
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(15);

    [Fact]
    public async Task The_api_stream_reaches_the_browser_unchanged_and_in_order()
    {
        var (browser, user, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;

        using var response = await browser.StreamAsync(conversation.Id, "What time is it?", token);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/event-stream", response.Content.Headers.ContentType?.MediaType);
        Assert.Equal("no-cache", response.Headers.CacheControl?.ToString());
        Assert.True(response.Headers.Contains("X-Trace-Id"));
        // Byte for byte what the Api wrote.
        Assert.Equal(conversation.Written.ToString(), body);
        var events = SseParser.Create(new MemoryStream(System.Text.Encoding.UTF8.GetBytes(body))).Enumerate().ToList();
        Assert.Equal(["delta", "delta", "tool_call", "tool_result", "usage", "done"], events.Select(e => e.EventType));
        Assert.Equal("Hello", JsonDocument.Parse(events[0].Data).RootElement.GetProperty("text").GetString());

        // Sent once, with the user's token, asking for a stream; the proxy never retries a POST.
        var sent = Assert.Single(user.Calls, call => call.Call == $"POST /v1/conversations/{conversation.Id}/messages");
        Assert.Equal("What time is it?", sent.Body);
        Assert.Equal("text/event-stream", sent.Accept);
        Assert.Equal(user.IssuedAccessTokens.Last(), sent.Bearer);
    }

    [Fact]
    public async Task Events_are_forwarded_as_they_come_not_when_the_answer_ends()
    {
        var (browser, _, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        conversation.Script = async (writer, turn, cancellationToken) =>
        {
            await writer.WriteAsync("delta", new { text = "first" }, cancellationToken);
            await release.Task.WaitAsync(cancellationToken);
            await writer.WriteAsync("done", new { messageId = turn.AssistantMessageId }, cancellationToken);
        };

        using var response = await browser.StreamAsync(conversation.Id, "hi", token);
        var stream = await response.Content.ReadAsStreamAsync();
        await using var events = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator();

        // The first event arrives while the Api is still holding the rest back.
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Patience));
        Assert.Equal("delta", events.Current.EventType);
        release.SetResult();
        Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Patience));
        Assert.Equal("done", events.Current.EventType);
    }

    [Fact]
    public async Task A_browser_that_disconnects_cancels_the_api_request()
    {
        var (browser, _, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;
        conversation.Script = async (writer, _, cancellationToken) =>
        {
            await writer.WriteAsync("delta", new { text = "partial" }, cancellationToken);
            await Task.Delay(Timeout.Infinite, cancellationToken);
        };

        var response = await browser.StreamAsync(conversation.Id, "Tell me a long story", token);
        var stream = await response.Content.ReadAsStreamAsync();
        await using (var events = SseParser.Create(stream).EnumerateAsync().GetAsyncEnumerator())
        {
            Assert.True(await events.MoveNextAsync().AsTask().WaitAsync(Patience));
            Assert.Equal("delta", events.Current.EventType);
        }

        // What Stop in chat.js does: abort the request, which closes the connection.
        response.Dispose();
        browser.Http.CancelPendingRequests();

        await conversation.StreamCancelled.Task.WaitAsync(Patience);
        var stored = conversation.Messages.Last();
        Assert.Equal(("assistant", "partial", "cancelled"), (stored.Role, stored.Content, stored.Status));
    }

    [Fact]
    public async Task A_refused_access_token_is_refreshed_and_the_message_sent_once()
    {
        var (browser, user, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;
        var first = user.IssuedAccessTokens.Last();
        user.RevokedAccessTokens.Add(first);

        using var response = await browser.StreamAsync(conversation.Id, "After a refresh", token);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Contains("event: done", body, StringComparison.Ordinal);
        Assert.Equal(1, user.RefreshCount);
        // The Api refused the first attempt before doing anything; only the second was processed.
        var posts = user.Calls.Where(call => call.Call == $"POST /v1/conversations/{conversation.Id}/messages").ToList();
        Assert.Equal([first, user.IssuedAccessTokens.Last()], posts.Select(call => call.Bearer));
        Assert.Single(conversation.Messages, message => message.Role == "user");
        // The rotated tokens reached the browser with the stream's headers.
        Assert.Contains(response.Headers.GetValues("Set-Cookie"), cookie => cookie.StartsWith(WebBrowser.SessionCookie, StringComparison.Ordinal));
    }

    [Fact]
    public async Task An_answer_that_takes_longer_than_the_call_timeouts_is_not_cut_off()
    {
        // Timeouts bound the wait for the Api's first answer, not the length of the stream after it.
        await using var api = await FakeApi.StartAsync();
        await using var factory = new WebAppFactory(api.BaseAddress, new Dictionary<string, string?>
        {
            ["Resilience:Llm:AttemptTimeout:Timeout"] = "00:00:01",
            ["Resilience:Llm:TotalRequestTimeout:Timeout"] = "00:00:01",
            ["Resilience:Llm:CircuitBreaker:SamplingDuration"] = "00:00:02",
        });
        using var browser = new WebBrowser(factory.Start());
        var user = api.CreateUser();
        var conversation = api.AddConversation(user, "Slow");
        conversation.Script = async (writer, turn, cancellationToken) =>
        {
            await writer.WriteAsync("delta", new { text = "slow" }, cancellationToken);
            await Task.Delay(TimeSpan.FromSeconds(2.5), cancellationToken);
            await writer.WriteAsync("done", new { messageId = turn.AssistantMessageId }, cancellationToken);
        };
        await browser.SignInOrFailAsync(user);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync($"/c/{conversation.Id}"));

        using var response = await browser.StreamAsync(conversation.Id, "Take your time", token);
        var body = await response.Content.ReadAsStringAsync();

        Assert.Equal(conversation.Written.ToString(), body);
        Assert.Contains("event: done", body, StringComparison.Ordinal);
        Assert.False(conversation.StreamCancelled.Task.IsCompleted);
    }

    [Fact]
    public async Task A_stream_the_api_breaks_off_ends_with_an_error_event_the_page_can_show()
    {
        var (browser, _, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;
        var received = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        conversation.Script = async (writer, _, cancellationToken) =>
        {
            await writer.WriteAsync("delta", new { text = "half an ans" }, cancellationToken);
            // Dropped once the browser has the first event, so it is the stream that breaks, not the request.
            await received.Task.WaitAsync(cancellationToken);
            writer.Abort();
        };

        using var response = await browser.StreamAsync(conversation.Id, "hi", token);
        var stream = await response.Content.ReadAsStreamAsync();
        var events = new List<SseItem<string>>();
        using var timeout = new CancellationTokenSource(Patience);
        await foreach (var item in SseParser.Create(stream).EnumerateAsync(timeout.Token))
        {
            events.Add(item);
            received.TrySetResult();
        }

        Assert.Equal(["delta", "error"], events.Select(e => e.EventType));
        var problem = JsonDocument.Parse(events[1].Data).RootElement;
        Assert.Equal(502, problem.GetProperty("status").GetInt32());
        Assert.Equal("The answer was interrupted.", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task An_unreachable_api_is_a_503_problem_the_page_can_show()
    {
        var api = await FakeApi.StartAsync();
        await using var factory = new WebAppFactory(api.BaseAddress, new Dictionary<string, string?>
        {
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "1",
            ["Resilience:Llm:Retry:Delay"] = "00:00:00",
        });
        using var browser = new WebBrowser(factory.Start());
        var user = api.CreateUser();
        var conversation = api.AddConversation(user, "Soon gone");
        await browser.SignInOrFailAsync(user);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync($"/c/{conversation.Id}"));
        await api.DisposeAsync();

        using var response = await browser.StreamAsync(conversation.Id, "Anyone there?", token);

        Assert.Equal(HttpStatusCode.ServiceUnavailable, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("The service could not be reached.", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task A_post_without_the_antiforgery_token_is_rejected_before_reaching_the_api()
    {
        var (browser, user, conversation, _) = await SignedInWithConversationAsync();
        using var _ = browser;

        using var missing = await browser.StreamAsync(conversation.Id, "hi", antiforgeryToken: null);
        using var forged = await browser.StreamAsync(conversation.Id, "hi", antiforgeryToken: "forged");

        Assert.Equal(HttpStatusCode.BadRequest, missing.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, forged.StatusCode);
        Assert.Equal("application/problem+json", missing.Content.Headers.ContentType?.MediaType);
        Assert.DoesNotContain(user.Calls, call => call.Call.EndsWith("/messages", StringComparison.Ordinal) && call.Call.StartsWith("POST", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Another_users_antiforgery_token_is_rejected()
    {
        var (browser, user, conversation, _) = await SignedInWithConversationAsync();
        using var _ = browser;
        var (other, _, _, otherToken) = await SignedInWithConversationAsync();
        using var __ = other;

        using var response = await browser.StreamAsync(conversation.Id, "hi", otherToken);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.DoesNotContain(user.Calls, call => call.Call == $"POST /v1/conversations/{conversation.Id}/messages");
    }

    [Fact]
    public async Task An_api_refusal_before_the_stream_passes_through_with_status_problem_and_retry_after()
    {
        var (browser, _, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;
        conversation.RejectWithRetryAfterSeconds = 30;

        using var response = await browser.StreamAsync(conversation.Id, "hi", token);

        Assert.Equal(HttpStatusCode.TooManyRequests, response.StatusCode);
        Assert.Equal("30", response.Headers.GetValues("Retry-After").Single());
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("The token budget is exhausted.", problem.GetProperty("title").GetString());
        Assert.Equal(429, problem.GetProperty("status").GetInt32());
    }

    [Fact]
    public async Task An_api_validation_problem_passes_through_with_its_field_errors()
    {
        var (browser, _, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;

        using var response = await browser.StreamAsync(conversation.Id, "   ", token);

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;
        Assert.Equal("The message is empty.", problem.GetProperty("errors").GetProperty("content")[0].GetString());
    }

    [Fact]
    public async Task The_finished_answer_is_served_as_sanitised_html()
    {
        var (browser, _, conversation, _) = await SignedInWithConversationAsync();
        using var _ = browser;
        var answer = conversation.Add("assistant", "**Bold** <script>alert(1)</script> [x](javascript:alert(1))");

        using var response = await browser.Http.GetAsync($"/app/conversations/{conversation.Id}/messages/{answer.Id}/html");
        var html = await response.Content.ReadAsStringAsync();

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("<strong>Bold</strong>", html, StringComparison.Ordinal);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain("javascript:", html, StringComparison.OrdinalIgnoreCase);

        using var missing = await browser.Http.GetAsync($"/app/conversations/{conversation.Id}/messages/{Guid.NewGuid()}/html");
        Assert.Equal(HttpStatusCode.NotFound, missing.StatusCode);
    }

    [Fact]
    public async Task Without_script_the_form_post_sends_without_streaming_and_redirects_back()
    {
        var (browser, user, conversation, token) = await SignedInWithConversationAsync();
        using var _ = browser;

        using var response = await browser.PostFormAsync($"/c/{conversation.Id}", token,
            [new("_handler", "send-message"), new("Content", "Plain form post")]);

        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
        Assert.Equal($"/c/{conversation.Id}", browser.LocationOf(response));
        var sent = Assert.Single(user.Calls, call => call.Call == $"POST /v1/conversations/{conversation.Id}/messages");
        Assert.Equal("application/json", sent.Accept);
        var page = await browser.GetPageAsync($"/c/{conversation.Id}");
        Assert.Contains("A complete answer.", page, StringComparison.Ordinal);
    }

    private async Task<(WebBrowser Browser, FakeUser User, FakeConversation Conversation, string Token)> SignedInWithConversationAsync()
    {
        var user = web.Api.CreateUser();
        var conversation = web.Api.AddConversation(user, "Streaming");
        var browser = web.CreateBrowser();
        await browser.SignInOrFailAsync(user);
        var token = WebBrowser.AntiforgeryToken(await browser.GetPageAsync($"/c/{conversation.Id}"));
        return (browser, user, conversation, token);
    }
}
