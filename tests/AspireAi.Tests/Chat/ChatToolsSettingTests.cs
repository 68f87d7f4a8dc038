using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Llm;

namespace AspireAi.Tests.Chat;

/// <summary>
/// <c>Chat:EnableTools</c>: by default the model is offered the project's tools; with it off a turn offers none (one
/// provider call per turn, for models without function calling), while a client's own tools on the OpenAI-compatible
/// API still reach the model.
/// </summary>
public sealed class ChatToolsSettingTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task With_tools_off_the_model_is_offered_only_the_clients_own_tools()
    {
        await using var fake = await FakeOpenAiServer.StartAsync();

        await using (var byDefault = factory.WithSettings(ChatFailureTests.OpenAiSettings(fake)))
        {
            var (client, _) = await byDefault.CreateUserClientAsync();
            await SendAsync(client);
        }
        Assert.Contains("search_documents", ToolNames(fake.ChatRequests[^1].Json));

        var settings = ChatFailureTests.OpenAiSettings(fake);
        settings["Chat:EnableTools"] = "false";
        await using var withoutTools = factory.WithSettings(settings);
        var (user, _) = await withoutTools.CreateUserClientAsync();
        await SendAsync(user);
        Assert.Empty(ToolNames(fake.ChatRequests[^1].Json));

        using var openAi = await user.PostAsJsonAsync("/v1/chat/completions", new
        {
            model = fake.Model,
            messages = new[] { new { role = "user", content = "What is the weather in Lisbon?" } },
            tools = new[] { new { type = "function", function = new { name = "get_weather", description = "Weather now.", parameters = new { type = "object", properties = new { } } } } },
        });
        Assert.Equal(HttpStatusCode.OK, openAi.StatusCode);
        Assert.Equal(["get_weather"], ToolNames(fake.ChatRequests[^1].Json));
    }

    private static async Task SendAsync(HttpClient client)
    {
        var id = await ChatTestData.CreateConversationAsync(client);
        using var response = await client.SendAsync(ChatTestData.SendRequest(id, new { content = "Hello there." }, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
    }

    private static List<string> ToolNames(JsonElement request) =>
        request.TryGetProperty("tools", out var tools)
            ? [.. tools.EnumerateArray().Select(t => t.GetProperty("function").GetProperty("name").GetString()!)]
            : [];
}
