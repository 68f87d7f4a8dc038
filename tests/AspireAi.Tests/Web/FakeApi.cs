using System.Collections.Concurrent;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Web;

// The Api contract Web is built against, implemented in memory on a real Kestrel at 127.0.0.1 with a free
// port, so Web's tests do not wait for the real Api. Tokens rotate and expire like the real ones; every
// call is recorded on the user who made it; chat streams run a script per conversation and record exactly
// what they wrote and whether the client went away.
internal sealed class FakeApi : IAsyncDisposable
{
    private static readonly JsonSerializerOptions Json = new(JsonSerializerDefaults.Web);

    private readonly WebApplication _app;
    private readonly ConcurrentDictionary<string, FakeUser> _users = new(StringComparer.OrdinalIgnoreCase);
    private readonly ConcurrentDictionary<string, IssuedToken> _accessTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeUser> _refreshTokens = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, FakeConversation> _conversations = new(StringComparer.Ordinal);
    private int _counter;

    private FakeApi(WebApplication app) => _app = app;

    public Uri BaseAddress { get; private set; } = null!;

    public static async Task<FakeApi> StartAsync()
    {
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { EnvironmentName = Environments.Production });
        builder.Logging.ClearProviders();
        var app = builder.Build();
        app.Urls.Add("http://127.0.0.1:0");

        var api = new FakeApi(app);
        api.Map(app);
        await app.StartAsync();
        api.BaseAddress = new Uri(app.Urls.Single());
        return api;
    }

    public FakeUser CreateUser()
    {
        var id = Guid.NewGuid().ToString("N");
        var user = new FakeUser($"user-{id[..12]}@example.test", $"pw-{id}");
        _users[user.Email] = user;
        return user;
    }

    public FakeConversation AddConversation(FakeUser owner, string? title = null)
    {
        var now = DateTimeOffset.UtcNow.AddSeconds(Interlocked.Increment(ref _counter));
        var conversation = new FakeConversation(Guid.NewGuid().ToString(), owner, title, now);
        _conversations[conversation.Id] = conversation;
        return conversation;
    }

    public void RevokeRefreshTokens(FakeUser user)
    {
        foreach (var (token, owner) in _refreshTokens)
        {
            if (owner == user)
            {
                _refreshTokens.TryRemove(token, out _);
            }
        }
    }

    public bool Exists(string conversationId) => _conversations.ContainsKey(conversationId);

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    private void Map(WebApplication app)
    {
        var traceIds = 0;
        app.Use(async (context, next) =>
        {
            context.Response.Headers["X-Trace-Id"] = $"trace-{Interlocked.Increment(ref traceIds)}";
            await next(context);
        });

        app.MapPost("/v1/auth/token", IResult (LoginBody body) =>
        {
            if (body.Email is null || !_users.TryGetValue(body.Email, out var user) || user.Password != body.Password)
            {
                return Problem(401, "Invalid email or password.");
            }

            user.Record("POST /v1/auth/token", null, null);
            if (user.SignInRetryAfterSeconds is { } retryAfter)
            {
                return Problem(429, "Too many sign-in attempts.", retryAfter);
            }

            return TypedResults.Ok(Issue(user));
        });

        // Not recorded on the user: tests that count a user's calls count what pages do, not sign-in.
        app.MapGet("/v1/auth/me", IResult (HttpContext context) =>
            Bearer(context) is { } token && _accessTokens.TryGetValue(token, out var issued)
                ? TypedResults.Ok(new { id = issued.User.Email, orgId = "org", email = issued.User.Email, role = issued.User.Role })
                : Problem(401, "Unauthorized."));

        app.MapPost("/v1/auth/refresh", async Task<IResult> (RefreshBody body) =>
        {
            // Rotation: a refresh token works once.
            if (body.RefreshToken is null || !_refreshTokens.TryRemove(body.RefreshToken, out var user))
            {
                return Problem(401, "The refresh token is invalid.");
            }

            user.Record("POST /v1/auth/refresh", null, body.RefreshToken);
            Interlocked.Increment(ref user.RefreshCount);
            await Task.Delay(user.RefreshDelay);
            return TypedResults.Ok(Issue(user));
        });

        app.MapPost("/v1/auth/logout", IResult (HttpContext context, RefreshBody body) =>
        {
            if (Authenticate(context, body.RefreshToken) is null)
            {
                return Problem(401, "Unauthorized.");
            }

            if (body.RefreshToken is not null)
            {
                _refreshTokens.TryRemove(body.RefreshToken, out _);
            }

            return TypedResults.NoContent();
        });

        app.MapGet("/v1/conversations", IResult (HttpContext context, string? cursor, int? limit) =>
        {
            if (Authenticate(context) is not { } user)
            {
                return Problem(401, "Unauthorized.");
            }

            var all = _conversations.Values.Where(c => c.Owner == user).OrderByDescending(c => c.UpdatedAt).ToList();
            var offset = cursor is null ? 0 : int.Parse(cursor, CultureInfo.InvariantCulture);
            var take = limit ?? 20;
            var items = all.Skip(offset).Take(take).Select(c => c.ToDto()).ToList();
            var next = offset + take < all.Count ? (offset + take).ToString(CultureInfo.InvariantCulture) : null;
            return TypedResults.Ok(new { items, nextCursor = next });
        });

        app.MapPost("/v1/conversations", IResult (HttpContext context, TitleBody? body) =>
        {
            if (Authenticate(context) is not { } user)
            {
                return Problem(401, "Unauthorized.");
            }

            var conversation = AddConversation(user, body?.Title);
            return TypedResults.Created($"/v1/conversations/{conversation.Id}", conversation.ToDto());
        });

        app.MapGet("/v1/conversations/{id}", IResult (HttpContext context, string id) =>
            Authenticate(context) is not { } user ? Problem(401, "Unauthorized.")
            : Find(user, id) is not { } conversation ? Problem(404, "Conversation not found.")
            : TypedResults.Ok(conversation.ToDto()));

        app.MapDelete("/v1/conversations/{id}", IResult (HttpContext context, string id) =>
        {
            if (Authenticate(context) is not { } user)
            {
                return Problem(401, "Unauthorized.");
            }

            if (Find(user, id) is null)
            {
                return Problem(404, "Conversation not found.");
            }

            _conversations.TryRemove(id, out _);
            return TypedResults.NoContent();
        });

        app.MapGet("/v1/conversations/{id}/messages", IResult (HttpContext context, string id, string? before, int? limit) =>
        {
            if (Authenticate(context) is not { } user)
            {
                return Problem(401, "Unauthorized.");
            }

            if (Find(user, id) is not { } conversation)
            {
                return Problem(404, "Conversation not found.");
            }

            var older = before is null ? long.MaxValue : long.Parse(before, CultureInfo.InvariantCulture);
            var take = limit ?? 50;
            var candidates = conversation.Messages.ToArray().Where(m => m.Sequence < older).OrderByDescending(m => m.Sequence).ToList();
            var items = candidates.Take(take).ToList();
            var next = candidates.Count > take ? items[^1].Sequence.ToString(CultureInfo.InvariantCulture) : null;
            return TypedResults.Ok(new { items, nextCursor = next });
        });

        app.MapGet("/v1/conversations/{id}/messages/{messageId}", IResult (HttpContext context, string id, string messageId) =>
            Authenticate(context) is not { } user ? Problem(401, "Unauthorized.")
            : Find(user, id)?.Messages.FirstOrDefault(m => m.Id == messageId) is not { } message ? Problem(404, "Message not found.")
            : TypedResults.Ok(message));

        app.MapPost("/v1/conversations/{id}/messages", SendMessageAsync);

        // Feedback is the real Api's (WebStackFixture tests it); the chat page only needs to read none.
        app.MapGet("/v1/conversations/{id}/feedback", IResult (HttpContext context, string id) =>
            Authenticate(context) is not { } user ? Problem(401, "Unauthorized.")
            : Find(user, id) is null ? Problem(404, "Conversation not found.")
            : TypedResults.Ok(Array.Empty<object>()));
    }

    private async Task SendMessageAsync(HttpContext context, string id)
    {
        var body = await context.Request.ReadFromJsonAsync<MessageBody>(context.RequestAborted);
        if (Authenticate(context, body?.Content) is not { } user)
        {
            await Problem(401, "Unauthorized.").ExecuteAsync(context);
            return;
        }

        if (Find(user, id) is not { } conversation)
        {
            await Problem(404, "Conversation not found.").ExecuteAsync(context);
            return;
        }

        if (string.IsNullOrWhiteSpace(body?.Content))
        {
            await TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["content"] = ["The message is empty."] })
                .ExecuteAsync(context);
            return;
        }

        if (conversation.RejectWithRetryAfterSeconds is { } retryAfter)
        {
            await Problem(429, "The token budget is exhausted.", retryAfter).ExecuteAsync(context);
            return;
        }

        conversation.Add("user", body.Content);
        var turn = new StreamTurn(Guid.NewGuid().ToString(), conversation.Messages.Last().Id);
        if (!context.Request.Headers.Accept.ToString().Contains("text/event-stream", StringComparison.Ordinal))
        {
            // The no-script path: the whole answer as JSON.
            var reply = conversation.Add("assistant", "A complete answer.", turn.AssistantMessageId);
            await TypedResults.Ok(new { messageId = reply.Id, userMessageId = turn.UserMessageId, content = reply.Content }).ExecuteAsync(context);
            return;
        }

        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        var writer = new FakeSseWriter(context.Response, conversation.Written);
        conversation.StreamStarted.TrySetResult();
        try
        {
            await (conversation.Script ?? DefaultScript)(writer, turn, context.RequestAborted);
            conversation.Add("assistant", writer.Text, turn.AssistantMessageId);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException && context.RequestAborted.IsCancellationRequested)
        {
            // What the real Api does when the client goes away: keep the partial answer as cancelled.
            conversation.Add("assistant", writer.Text, turn.AssistantMessageId, "cancelled");
            conversation.StreamCancelled.TrySetResult();
        }
    }

    public static async Task DefaultScript(FakeSseWriter writer, StreamTurn turn, CancellationToken cancellationToken)
    {
        await writer.WriteAsync("delta", new { text = "Hello" }, cancellationToken);
        await writer.WriteAsync("delta", new { text = ", **world**" }, cancellationToken);
        await writer.WriteAsync("tool_call", new { id = "call-1", name = "clock", arguments = new { zone = "UTC" } }, cancellationToken);
        await writer.WriteAsync("tool_result", new { id = "call-1", name = "clock", result = "12:00", isError = false }, cancellationToken);
        await writer.WriteAsync("usage", new { inputTokens = 12, outputTokens = 5 }, cancellationToken);
        await writer.WriteAsync("done", new
        {
            messageId = turn.AssistantMessageId,
            userMessageId = turn.UserMessageId,
            model = "fake-model",
            promptName = "chat",
            promptVersion = 3,
            inputTokens = 12,
            outputTokens = 5,
            cost = 0.0004m,
            traceId = "trace-stream",
            memoryIds = Array.Empty<string>(),
            citations = Array.Empty<object>(),
        }, cancellationToken);
    }

    private TokenResponseBody Issue(FakeUser user)
    {
        var number = Interlocked.Increment(ref _counter);
        var access = $"at-{number}";
        var refresh = $"rt-{number}";
        _accessTokens[access] = new IssuedToken(user, DateTimeOffset.UtcNow.AddSeconds(user.AccessTokenLifetimeSeconds));
        _refreshTokens[refresh] = user;
        user.IssuedAccessTokens.Enqueue(access);
        return new TokenResponseBody(access, "Bearer", user.AccessTokenLifetimeSeconds, refresh, 3600);
    }

    // The user of a valid bearer token; calls with a refused token are still recorded on its user.
    private FakeUser? Authenticate(HttpContext context, string? body = null)
    {
        var token = Bearer(context);
        if (token is null || !_accessTokens.TryGetValue(token, out var issued))
        {
            return null;
        }

        var accept = context.Request.Headers.Accept.ToString();
        issued.User.Record($"{context.Request.Method} {context.Request.Path}", token, body, accept.Length > 0 ? accept : null);
        var valid = issued.ExpiresAt > DateTimeOffset.UtcNow && !issued.User.RejectAccessTokens && !issued.User.RevokedAccessTokens.Contains(token);
        return valid ? issued.User : null;
    }

    private FakeConversation? Find(FakeUser user, string id) =>
        _conversations.TryGetValue(id, out var conversation) && conversation.Owner == user ? conversation : null;

    private static string? Bearer(HttpContext context) =>
        context.Request.Headers.Authorization.ToString() is { } header && header.StartsWith("Bearer ", StringComparison.Ordinal)
            ? header["Bearer ".Length..]
            : null;

    private static IResult Problem(int status, string title, int? retryAfterSeconds = null)
    {
        var problem = TypedResults.Problem(new Microsoft.AspNetCore.Mvc.ProblemDetails
        {
            Status = status,
            Title = title,
            Extensions = { ["traceId"] = $"problem-{status}" },
        });
        return retryAfterSeconds is { } seconds ? new WithRetryAfter(problem, seconds) : problem;
    }

    private sealed record IssuedToken(FakeUser User, DateTimeOffset ExpiresAt);

    private sealed record LoginBody(string? Email, string? Password);

    private sealed record RefreshBody(string? RefreshToken);

    private sealed record TitleBody(string? Title);

    private sealed record MessageBody(string? Content);

    private sealed record TokenResponseBody(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, int RefreshExpiresIn);

    private sealed class WithRetryAfter(IResult inner, int seconds) : IResult
    {
        public Task ExecuteAsync(HttpContext httpContext)
        {
            httpContext.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
            return inner.ExecuteAsync(httpContext);
        }
    }

    internal static string Serialize(object value) => JsonSerializer.Serialize(value, Json);
}

internal sealed class FakeUser(string email, string password)
{
    public string Email { get; } = email;

    public string Password { get; } = password;

    // What /v1/auth/me reports, which decides the pages Web offers (the fake serves none of the admin endpoints).
    public string Role { get; set; } = "user";

    public int AccessTokenLifetimeSeconds { get; set; } = 3600;

    public TimeSpan RefreshDelay { get; set; } = TimeSpan.FromMilliseconds(50);

    public int? SignInRetryAfterSeconds { get; set; }

    // Every access token of this user is refused, even fresh ones.
    public bool RejectAccessTokens { get; set; }

    public ConcurrentBag<string> RevokedAccessTokens { get; } = [];

    public ConcurrentQueue<string> IssuedAccessTokens { get; } = new();

    public ConcurrentQueue<FakeCall> Calls { get; } = new();

    public int RefreshCount;

    public void Record(string call, string? bearer, string? body, string? accept = null) =>
        Calls.Enqueue(new FakeCall(call, bearer, body, accept));
}

internal sealed record FakeCall(string Call, string? Bearer, string? Body, string? Accept);

internal sealed record StreamTurn(string AssistantMessageId, string UserMessageId);

internal sealed class FakeConversation(string id, FakeUser owner, string? title, DateTimeOffset createdAt)
{
    private long _sequence;

    public string Id { get; } = id;

    public FakeUser Owner { get; } = owner;

    public string? Title { get; set; } = title;

    public DateTimeOffset UpdatedAt { get; private set; } = createdAt;

    public ConcurrentQueue<FakeMessage> Messages { get; } = new();

    public Func<FakeSseWriter, StreamTurn, CancellationToken, Task>? Script { get; set; }

    public int? RejectWithRetryAfterSeconds { get; set; }

    // Exactly what the stream wrote, to compare with what reached the browser.
    public StringBuilder Written { get; } = new();

    public TaskCompletionSource StreamStarted { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TaskCompletionSource StreamCancelled { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public FakeMessage Add(string role, string content, string? id = null, string status = "completed")
    {
        var message = new FakeMessage(
            id ?? Guid.NewGuid().ToString(), Interlocked.Increment(ref _sequence), role, content, status, DateTimeOffset.UtcNow,
            role == "assistant" ? "fake-model" : null, role == "assistant" ? "chat" : null, role == "assistant" ? 3 : null,
            role == "assistant" ? 12 : null, role == "assistant" ? 5 : null, role == "assistant" ? 0.0004m : null, "trace-message");
        Messages.Enqueue(message);
        UpdatedAt = DateTimeOffset.UtcNow;
        return message;
    }

    public object ToDto() => new
    {
        id = Id,
        title = Title,
        agentId = "default",
        createdAt = UpdatedAt,
        updatedAt = UpdatedAt,
        lastMessagePreview = Messages.LastOrDefault()?.Content,
        lastMessageAt = Messages.LastOrDefault()?.CreatedAt,
    };
}

internal sealed record FakeMessage(
    string Id, long Sequence, string Role, string Content, string Status, DateTimeOffset CreatedAt, string? Model,
    string? PromptName, int? PromptVersion, int? InputTokens, int? OutputTokens, decimal? Cost, string TraceId);

internal sealed class FakeSseWriter(HttpResponse response, StringBuilder written)
{
    private readonly StringBuilder _text = new();

    public string Text => _text.ToString();

    // The Api process dying mid-answer, as the client sees it: the connection drops.
    public void Abort() => response.HttpContext.Abort();

    public async Task WriteAsync(string eventName, object data, CancellationToken cancellationToken)
    {
        var json = FakeApi.Serialize(data);
        if (eventName == "delta" && JsonDocument.Parse(json).RootElement.TryGetProperty("text", out var text))
        {
            _text.Append(text.GetString());
        }

        var frame = $"event: {eventName}\ndata: {json}\n\n";
        lock (written)
        {
            written.Append(frame);
        }

        await response.WriteAsync(frame, cancellationToken);
        await response.Body.FlushAsync(cancellationToken);
    }
}
