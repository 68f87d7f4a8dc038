using AspireAi.Core.Common;

namespace AspireAi.Core.Documents.Retrieval;

/// <summary>A retrieved passage as the model may see it: text, title and heading screened for instructions.</summary>
public sealed record ScreenedPassage(string Content, string Title, string? Heading);

/// <summary>
/// One rule for every way a passage reaches the model (the chat's sources block and the <c>search_documents</c>
/// tool): a passage is the document author's text, so instruction-like parts are quoted or left out
/// (<see cref="ContentScreen"/>). The heading is screened with the text below it, as it was written ("### System"
/// above a paragraph is a role marker even though neither part is one alone), and title and heading, which end up in
/// instruction lines and result fields, are shown only when clean.
/// </summary>
public static class PassageScreen
{
    /// <summary>
    /// The passage as its author wrote it, for screening: the heading is a breadcrumb ("Handbook › System"), each level
    /// goes on its own heading line above the text.
    /// </summary>
    public static string Headed(string? heading, string content) =>
        heading is null
            ? content
            : string.Concat(heading.Split('\u203A', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).Select(h => $"### {h}\n")) + content;

    /// <summary>The screened passage, or null when it is to be left out.</summary>
    public static ScreenedPassage? Screen(ContentScreen screen, string title, string? heading, string content, string source)
    {
        ArgumentNullException.ThrowIfNull(screen);
        ArgumentNullException.ThrowIfNull(content);
        var headed = Headed(heading, content);
        if (screen.ForContext(headed, source) is not { } screened)
        {
            return null;
        }
        var text = ReferenceEquals(screened, headed) ? content : screened;
        var cleanTitle = PromptInjection.Scan(title) == InjectionKinds.None ? title : PromptInjection.Withheld;
        var cleanHeading = heading is not null && PromptInjection.Scan(heading) == InjectionKinds.None ? heading : null;
        return new ScreenedPassage(text, cleanTitle, cleanHeading);
    }
}
