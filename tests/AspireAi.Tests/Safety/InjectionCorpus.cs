using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using AspireAi.Tests.Llm;

namespace AspireAi.Tests.Safety;

/// <summary>One string of the corpus, with its own canary token in place of <c>{canary}</c>.</summary>
public sealed record InjectionEntry(int Number, string Form, string Text, string Canary);

/// <summary>The prompt-injection corpus (<c>injection-corpus.json</c>): data of our own, by form.</summary>
internal static partial class InjectionCorpus
{
    public static IReadOnlyList<InjectionEntry> Load(string run)
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Safety", "injection-corpus.json");
        using var document = JsonDocument.Parse(File.ReadAllText(path));
        return [.. document.RootElement.GetProperty("entries").EnumerateArray().Select((e, i) =>
        {
            var canary = string.Create(CultureInfo.InvariantCulture, $"CANARY{run}X{i + 1:00}");
            return new InjectionEntry(i + 1, e.GetProperty("form").GetString()!, e.GetProperty("text").GetString()!.Replace("{canary}", canary, StringComparison.Ordinal), canary);
        })];
    }

    /// <summary>A short token unique to one test run, so canaries of parallel tests never meet.</summary>
    public static string NewRun() => Guid.NewGuid().ToString("N")[..6].ToUpperInvariant();

    /// <summary>The canaries of <paramref name="run"/> present in <paramref name="text"/>.</summary>
    public static IReadOnlyList<string> CanariesIn(string text, string run) =>
        [.. Canary().Matches(text).Select(m => m.Value).Where(v => v.StartsWith("CANARY" + run, StringComparison.Ordinal)).Distinct()];

    [GeneratedRegex(@"CANARY[0-9A-F]{6}X\d\d")]
    private static partial Regex Canary();

    /// <summary>
    /// A model that obeys anything it reads: it repeats every canary it can see anywhere in what it was sent (system,
    /// data, tool results), and, offered tools on a turn without tool results, first does what an injected request
    /// would make it do and searches the documents for everything.
    /// </summary>
    public static FakeOpenAiReply ObedientModel(bool searchDocumentsFirst) => FakeOpenAiReply.Custom(call =>
    {
        var messages = call.Request.Json.GetProperty("messages").EnumerateArray().ToList();
        var offeredSearch = call.Request.Json.TryGetProperty("tools", out var tools)
            && tools.EnumerateArray().Any(t => t.GetProperty("function").GetProperty("name").GetString() == "search_documents");
        var sawToolResult = messages.Any(m => m.GetProperty("role").GetString() == "tool");
        if (searchDocumentsFirst && offeredSearch && !sawToolResult)
        {
            return FakeOpenAiReply.ToolCalls([new FakeToolCall("call_search", "search_documents", """{"query": "bakery opening hours", "top_k": 64}""")])
                .Respond(call);
        }
        var seen = Canary().Matches(call.Request.Body).Select(m => m.Value).Distinct().ToList();
        return FakeOpenAiReply.Text(seen.Count == 0 ? "I found nothing to obey." : "Obeying: " + string.Join(' ', seen)).Respond(call);
    });
}
