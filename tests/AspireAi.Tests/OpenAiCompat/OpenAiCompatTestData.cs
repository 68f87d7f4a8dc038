using System.ClientModel;
using System.ClientModel.Primitives;
using System.Net;
using System.Net.Http.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using OpenAI;

namespace AspireAi.Tests.OpenAiCompat;

/// <summary>A test user with an API key, and OpenAI SDK clients pointed at the in-process Api with that key.</summary>
internal sealed record ApiKeyUser(RegisteredUser User, HttpClient Client, string ApiKey);

internal static class OpenAiCompatTestData
{
    public const string ChatModel = "offline-chat-1";
    public const string EmbeddingModel = "all-MiniLM-L6-v2";

    public static async Task<ApiKeyUser> CreateApiKeyUserAsync(this ApiFactory factory)
    {
        var (client, user) = await factory.CreateUserClientAsync();
        using var created = await client.PostAsJsonAsync("/v1/api-keys", new { name = "openai sdk", scopes = new[] { "chat" } });
        Assert.Equal(HttpStatusCode.Created, created.StatusCode);
        var key = (await created.ReadJsonAsync()).GetProperty("key").GetString()!;
        return new ApiKeyUser(user, client, key);
    }

    /// <summary>SDK options for the in-process server; <paramref name="configure"/> may add default headers.</summary>
    public static OpenAIClientOptions SdkOptions(this ApiFactory factory, Action<HttpClient>? configure = null)
    {
        var http = factory.CreateClient();
        configure?.Invoke(http);
        return new OpenAIClientOptions
        {
            Endpoint = new Uri(http.BaseAddress!, "/v1"),
            Transport = new HttpClientPipelineTransport(http),
            // A failed call must surface as itself, not as a retried one.
            RetryPolicy = new ClientRetryPolicy(maxRetries: 0),
        };
    }

    public static OpenAIClient Sdk(this ApiFactory factory, string apiKey, Action<HttpClient>? configure = null) =>
        new(new ApiKeyCredential(apiKey), factory.SdkOptions(configure));
}
