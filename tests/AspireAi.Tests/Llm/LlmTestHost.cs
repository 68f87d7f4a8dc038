using AspireAi.Core.Llm;
using AspireAi.Offline;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.Llm;

// The services of an app that called AddLlm, built from in-memory settings. Resilience timings are shrunk so a
// retry or a hang costs milliseconds; the logic under test is the production one.
internal static class LlmTestHost
{
    public static ServiceProvider Create(IDictionary<string, string?> settings, Action<IServiceCollection>? configure = null)
    {
        var all = new Dictionary<string, string?>
        {
            ["Resilience:Llm:Retry:Delay"] = "00:00:00.010",
            ["Resilience:Llm:AttemptTimeout:Timeout"] = "00:00:02",
            ["Resilience:Llm:TotalRequestTimeout:Timeout"] = "00:00:08",
            ["Resilience:Llm:Retry:MaxRetryAttempts"] = "2",
        };
        foreach (var (key, value) in settings)
        {
            all[key] = value;
        }

        var configuration = new ConfigurationBuilder().AddInMemoryCollection(all).Build();
        var services = new ServiceCollection();
        services.AddSingleton<IConfiguration>(configuration);
        services.AddLogging();
        services.AddLlm(configuration);
        services.AddOfflineModels();
        configure?.Invoke(services);
        return services.BuildServiceProvider(new ServiceProviderOptions { ValidateOnBuild = true, ValidateScopes = true });
    }

    public static Dictionary<string, string?> Compatible(FakeOpenAiServer server, string model = "fake-gpt") => new()
    {
        ["Llm:Provider"] = "OpenAICompatible",
        ["Llm:Endpoint"] = server.Endpoint.ToString(),
        ["Llm:ChatModel"] = model,
        ["Llm:EmbeddingModel"] = "fake-embed",
        ["Llm:ApiKey"] = "sk-test-secret",
    };

    public static IChatClient Chat(this IServiceProvider services) => services.GetRequiredService<IChatClient>();

    public static async Task<List<ChatResponseUpdate>> CollectAsync(this IAsyncEnumerable<ChatResponseUpdate> updates)
    {
        var list = new List<ChatResponseUpdate>();
        await foreach (var update in updates)
        {
            list.Add(update);
        }

        return list;
    }
}
