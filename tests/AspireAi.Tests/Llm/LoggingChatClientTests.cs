using AspireAi.Core.Llm.Pipeline;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Logging;

namespace AspireAi.Tests.Llm;

public sealed class LoggingChatClientTests
{
    [Fact]
    public async Task Prompt_and_answer_are_logged_truncated_at_debug_and_a_summary_at_information()
    {
        using var provider = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Debug));
        var longAnswer = string.Concat(Enumerable.Repeat("answer ", 200));
        using var client = new LoggingChatClient(new ScriptedChatClient((_, _) => ScriptedChatClient.Reply(longAnswer, input: 321, output: 45)), factory.CreateLogger<LoggingChatClient>());
        var longQuestion = string.Concat(Enumerable.Repeat("question ", 300));

        await client.GetStreamingResponseAsync([new(ChatRole.System, "Be brief."), new(ChatRole.User, longQuestion)]).CollectAsync();

        var prompt = Assert.Single(provider.Entries, e => e.Level == LogLevel.Debug && e.Message.StartsWith("LLM request", StringComparison.Ordinal));
        Assert.Contains("[system] Be brief.", prompt.Message, StringComparison.Ordinal);
        Assert.True(prompt.Message.Length < 500 + 120, $"prompt log is {prompt.Message.Length} chars");
        var answer = Assert.Single(provider.Entries, e => e.Level == LogLevel.Debug && e.Message.Contains("answer:", StringComparison.Ordinal));
        Assert.True(answer.Message.Length < 200 + 60, $"answer log is {answer.Message.Length} chars");
        var summary = Assert.Single(provider.Entries, e => e.Level == LogLevel.Information);
        Assert.Contains("321 input / 45 output tokens", summary.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("question question", summary.Message, StringComparison.Ordinal); // content only at Debug
    }

    [Fact]
    public async Task Secrets_in_the_prompt_and_the_answer_never_reach_the_log()
    {
        using var provider = new CapturingLoggerProvider();
        using var factory = LoggerFactory.Create(b => b.AddProvider(provider).SetMinimumLevel(LogLevel.Debug));
        const string key = "sk-proj-Abcdefghijklmnop1234567890";
        using var client = new LoggingChatClient(new ScriptedChatClient((_, _) => ScriptedChatClient.Reply($"Noted, your key {key} works.")),
            factory.CreateLogger<LoggingChatClient>());

        await client.GetResponseAsync([new(ChatRole.User, $"My API key is {key} and my password is hunter22")]);

        var logged = string.Join('\n', provider.Entries.Select(e => e.Message));
        Assert.Contains("LLM request", logged, StringComparison.Ordinal);
        Assert.DoesNotContain(key, logged, StringComparison.Ordinal);
        Assert.DoesNotContain("hunter22", logged, StringComparison.Ordinal);
        Assert.Contains("[redacted]", logged, StringComparison.Ordinal);
    }
}
