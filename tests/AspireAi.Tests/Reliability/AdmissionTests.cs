using System.Net;
using System.Net.Http.Json;
using AspireAi.Core.Chat;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.OpenAiCompat;
using Microsoft.AspNetCore.TestHost;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Reliability;

/// <summary>
/// Bounded in-flight chat turns per instance: with the bound taken by a slow stream, the next turn is refused at once
/// with 503 + Retry-After before anything is stored, on both chat APIs, and admitted again once the stream ends.
/// </summary>
public sealed class AdmissionTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task A_turn_beyond_the_bound_is_refused_at_once_and_admitted_after_the_running_one_ends()
    {
        await using var bounded = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Admission:MaxConcurrentChatTurns"] = "1",
            ["Admission:RetryAfter"] = "00:00:02",
            ["Llm:Offline:TokenDelayMs"] = "40",
        });
        var caller = await bounded.CreateApiKeyUserAsync();
        var client = caller.Client;
        var running = await ChatTestData.CreateConversationAsync(client);
        var refused = await ChatTestData.CreateConversationAsync(client);

        using var stream = await client.SendAsync(ChatTestData.SendRequest(running, new { content = "Please write a long story about a lighthouse keeper." }),
            HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        var events = SseReader.ReadAsync(stream).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync()); // the turn is in flight and holds the only slot

        using (var native = await client.SendAsync(ChatTestData.SendRequest(refused, new { content = "Hello?" })))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, native.StatusCode);
            Assert.Equal(TimeSpan.FromSeconds(2), native.Headers.RetryAfter?.Delta);
            Assert.Equal("application/problem+json", native.Content.Headers.ContentType?.MediaType);
            var problem = await native.ReadJsonAsync();
            Assert.Equal(503, problem.GetProperty("status").GetInt32());
            Assert.Contains("Admission:MaxConcurrentChatTurns", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }

        using (var openAi = await client.PostAsJsonAsync("/v1/chat/completions",
            new { model = OpenAiCompatTestData.ChatModel, messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, openAi.StatusCode);
            Assert.NotNull(openAi.Headers.RetryAfter);
            var error = (await openAi.ReadJsonAsync()).GetProperty("error");
            Assert.Equal("server_error", error.GetProperty("type").GetString());
        }

        // Refused before anything was written: no message in the second conversation.
        Assert.Empty(await ChatTestData.MessagesAsync(bounded.DataSource, refused));

        // Reads are not chat turns and are never refused by the bound.
        using (var list = await client.GetAsync("/v1/conversations"))
        {
            Assert.Equal(HttpStatusCode.OK, list.StatusCode);
        }

        while (await events.MoveNextAsync())
        {
        }
        await events.DisposeAsync();

        using var admitted = await client.SendAsync(ChatTestData.SendRequest(refused, new { content = "Hello again?" }, stream: false));
        Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        var rows = await ChatTestData.MessagesAsync(bounded.DataSource, refused);
        Assert.Equal(["user", "assistant"], rows.Select(r => r.Role));
    }

    [Fact]
    public async Task A_bad_bound_stops_the_Api_from_starting()
    {
        await using var invalid = factory.WithSettings(new Dictionary<string, string?> { ["Admission:MaxConcurrentChatTurns"] = "0" });
        var error = Assert.ThrowsAny<Exception>(() => invalid.CreateClient());
        Assert.Contains("MaxConcurrentChatTurns", error.ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_turn_that_would_wait_too_long_to_be_prepared_is_refused_and_a_streaming_turn_does_not_hold_the_slot()
    {
        var blocker = new BlockingContextProvider();
        await using var bounded = factory.WithSettings(new Dictionary<string, string?>
        {
            ["Admission:MaxConcurrentPreparations"] = "1",
            ["Admission:MaxPreparationWait"] = "00:00:00.150",
            ["Llm:Offline:TokenDelayMs"] = "40",
        }).WithHost(host => host.ConfigureTestServices(services => services.AddSingleton<IChatContextProvider>(blocker)));
        var client = (await bounded.CreateApiKeyUserAsync()).Client;
        var preparing = await ChatTestData.CreateConversationAsync(client);
        var refused = await ChatTestData.CreateConversationAsync(client);

        // The first turn holds the only preparation slot while its context is gathered.
        var first = client.SendAsync(ChatTestData.SendRequest(preparing, new { content = "block: tell me a story" }, stream: false));
        await blocker.Entered.Task.WaitAsync(TimeSpan.FromSeconds(30));

        using (var native = await client.SendAsync(ChatTestData.SendRequest(refused, new { content = "Hello?" })))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, native.StatusCode);
            Assert.NotNull(native.Headers.RetryAfter?.Delta);
            var problem = await native.ReadJsonAsync();
            Assert.Contains("Admission:MaxConcurrentPreparations", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        }
        using (var openAi = await client.PostAsJsonAsync("/v1/chat/completions",
            new { model = OpenAiCompatTestData.ChatModel, messages = new[] { new { role = "user", content = "hi" } } }))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, openAi.StatusCode);
            Assert.NotNull(openAi.Headers.RetryAfter);
            Assert.Equal("server_overloaded", (await openAi.ReadJsonAsync()).GetProperty("error").GetProperty("code").GetString());
        }
        Assert.Empty(await ChatTestData.MessagesAsync(bounded.DataSource, refused));

        blocker.Release.TrySetResult();
        using (var answered = await first)
        {
            Assert.Equal(HttpStatusCode.OK, answered.StatusCode);
        }

        // A turn that is streaming its answer has left its preparation: the next turn is admitted meanwhile.
        using var stream = await client.SendAsync(ChatTestData.SendRequest(preparing, new { content = "Please write a long story about a lighthouse keeper." }),
            HttpCompletionOption.ResponseHeadersRead);
        Assert.Equal(HttpStatusCode.OK, stream.StatusCode);
        var events = SseReader.ReadAsync(stream).GetAsyncEnumerator();
        Assert.True(await events.MoveNextAsync());
        using (var admitted = await client.SendAsync(ChatTestData.SendRequest(refused, new { content = "Hello again?" }, stream: false)))
        {
            Assert.Equal(HttpStatusCode.OK, admitted.StatusCode);
        }
        await events.DisposeAsync();
        Assert.Equal(["user", "assistant"], (await ChatTestData.MessagesAsync(bounded.DataSource, refused)).Select(r => r.Role));
    }

    /// <summary>Holds the preparation of turns whose text starts with "block:" until released.</summary>
    private sealed class BlockingContextProvider : IChatContextProvider
    {
        public TaskCompletionSource Entered { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public TaskCompletionSource Release { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public string Name => "blocking";

        public async Task<ChatContextBlock?> GetContextAsync(ChatContextRequest request, CancellationToken cancellationToken)
        {
            if (request.Query.StartsWith("block:", StringComparison.Ordinal))
            {
                Entered.TrySetResult();
                await Release.Task.WaitAsync(cancellationToken);
            }
            return null;
        }
    }
}
