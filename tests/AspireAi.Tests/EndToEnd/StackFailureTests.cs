using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.Json;
using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using AspireAi.LocalServers;
using AspireAi.ServiceDefaults;
using AspireAi.Tests.Jobs;

namespace AspireAi.Tests.EndToEnd;

/// <summary>Dependencies of the real app model really killed (SIGKILL, no chance to clean up) while it serves.</summary>
[Collection(EndToEndCollection.Name)]
public sealed class StackFailureTests
{
    [Fact]
    public async Task Killing_Redis_mid_traffic_degrades_chat_without_errors_and_it_recovers_when_Redis_is_started_again()
    {
        await using var stack = await AspireStack.StartAsync();
        using var api = await SignedInClientAsync(stack);
        var conversation = await CreateConversationAsync(api);

        // Traffic runs throughout: every answer must be a 200 with an answer, whatever Redis is doing.
        using var stop = new CancellationTokenSource();
        var statuses = new List<HttpStatusCode>();
        var traffic = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                using var sent = await api.PostAsJsonAsync($"/v1/conversations/{conversation}/messages", new { content = "What time is it?" }, CancellationToken.None);
                lock (statuses) { statuses.Add(sent.StatusCode); }
                Assert.True(sent.StatusCode == HttpStatusCode.OK, $"{(int)sent.StatusCode}: {await sent.Content.ReadAsStringAsync(CancellationToken.None)}");
                await Task.Delay(100, CancellationToken.None);
            }
        });
        await Task.Delay(1000);

        Assert.True(NativeProcess.Signal(stack.Pid(ResourceNames.Redis), NativeProcess.SigKill));
        // The Api reports itself not ready (Redis is a readiness dependency) but keeps answering.
        await WaitForHealthAsync(stack.ApiUrl, HttpStatusCode.ServiceUnavailable);
        var before = Count(statuses);
        await WaitUntilAsync(() => Count(statuses) >= before + 5, "five chats answered while Redis is down");

        // The dashboard's Start button, as an operator would press it.
        await stack.CommandAsync(ResourceNames.Redis, KnownResourceCommands.StartCommand);
        await WaitForHealthAsync(stack.ApiUrl, HttpStatusCode.OK);
        before = Count(statuses);
        await WaitUntilAsync(() => Count(statuses) >= before + 3, "chats answered after Redis is back");

        await stop.CancelAsync();
        await traffic;
        Assert.All(statuses, s => Assert.Equal(HttpStatusCode.OK, s));
    }

    [Fact]
    public async Task A_crashed_service_shows_as_exited_and_starting_it_again_brings_it_back_healthy()
    {
        await using var stack = await AspireStack.StartAsync();
        var pid = stack.Pid(ResourceNames.Api);

        Assert.True(NativeProcess.Signal(pid, NativeProcess.SigKill));
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(60)))
        {
            await stack.App.ResourceNotifications.WaitForResourceAsync(ResourceNames.Api, KnownResourceStates.TerminalStates, cts.Token);
        }
        Assert.False(NativeProcess.IsAlive(pid));

        await stack.CommandAsync(ResourceNames.Api, KnownResourceCommands.StartCommand);
        using (var cts = new CancellationTokenSource(TimeSpan.FromSeconds(90)))
        {
            await stack.App.ResourceNotifications.WaitForResourceHealthyAsync(ResourceNames.Api, cts.Token);
        }
        Assert.NotEqual(pid, stack.Pid(ResourceNames.Api));
        using var http = new HttpClient();
        using var health = await http.GetAsync(new Uri(stack.ApiUrl, "/health"));
        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
    }

    private static int Count(List<HttpStatusCode> statuses)
    {
        lock (statuses) { return statuses.Count; }
    }

    private static async Task<HttpClient> SignedInClientAsync(AspireStack stack)
    {
        var api = new HttpClient { BaseAddress = stack.ApiUrl, Timeout = TimeSpan.FromSeconds(30) };
        var email = $"e2e-{Guid.NewGuid():N}@example.com";
        const string password = "correct horse battery staple";
        using (var registered = await api.PostAsJsonAsync("/v1/auth/register", new { email, password, displayName = "Outage" }))
        {
            Assert.True(registered.IsSuccessStatusCode, await registered.Content.ReadAsStringAsync());
        }
        using var token = await api.PostAsJsonAsync("/v1/auth/token", new { email, password });
        using var body = JsonDocument.Parse(await token.Content.ReadAsStringAsync());
        api.DefaultRequestHeaders.Authorization = new AuthenticationHeaderValue("Bearer", body.RootElement.GetProperty("accessToken").GetString());
        return api;
    }

    private static async Task<Guid> CreateConversationAsync(HttpClient api)
    {
        using var created = await api.PostAsJsonAsync("/v1/conversations", new { title = "outage" });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        using var body = JsonDocument.Parse(await created.Content.ReadAsStringAsync());
        return body.RootElement.GetProperty("id").GetGuid();
    }

    private static async Task WaitForHealthAsync(Uri service, HttpStatusCode expected)
    {
        using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
        var last = (HttpStatusCode)0;
        // The last answer is read when the wait gives up, not when it starts.
        await JobsTestData.WaitUntilAsync(async () =>
        {
            using var health = await http.GetAsync(new Uri(service, "/health"));
            last = health.StatusCode;
            return last == expected;
        }, TimeSpan.FromSeconds(60), $"/health to answer {(int)expected}", () => $"last answer: {(int)last}");
    }

    private static Task WaitUntilAsync(Func<bool> condition, string what) => WaitUntilAsync(() => Task.FromResult(condition()), what);

    private static Task WaitUntilAsync(Func<Task<bool>> condition, string what) =>
        JobsTestData.WaitUntilAsync(condition, TimeSpan.FromSeconds(60), what);
}
