using System.Globalization;
using AspireAi.Core.Chat;
using AspireAi.Core.Common;
using AspireAi.Core.Llm;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Documents.Retrieval;

/// <summary>
/// Puts the passages of the user's documents that answer the question into the chat as a
/// <see cref="LlmPromptBlocks.SourcesHeading"/> block, with a <see cref="Citation"/> for each. Passages are cited as
/// <c>[S1]</c>, <c>[S2]</c> …: <c>S{n}</c> is the n-th entry of the answer's <c>citations</c>. When the best match is
/// under the relevance threshold, the block says that nothing relevant was found, so the model does not invent.
/// </summary>
public sealed class DocumentContextProvider(DocumentRetriever retriever, ContentScreen screen, IOptions<DocumentsOptions> options) : IChatContextProvider
{
    public const string SourceIdPrefix = "S";

    internal const string LowConfidenceInstruction =
        "Nothing in the user's documents is relevant to this question (every passage scored under the relevance threshold). " +
        "If the question is about their documents, say that you found nothing relevant in them; do not invent content or citations.";

    public string Name => "documents";

    public async Task<ChatContextBlock?> GetContextAsync(ChatContextRequest request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        var settings = options.Value.Retrieval;
        var result = await retriever.SearchAsync(request.UserId, request.OrgId,
            new DocumentSearchRequest(request.Query, settings.TopK, Source: "chat"), cancellationToken).ConfigureAwait(false);
        if (result.LowConfidence)
        {
            return new ChatContextBlock(LlmPromptBlocks.Format(LlmPromptBlocks.SourcesHeading, [], LowConfidenceInstruction), [], []);
        }

        if (result.Hits.Count == 0)
        {
            return null; // no documents, or none matching at all: say nothing about documents
        }

        var items = new List<PromptBlockItem>();
        var citations = new List<Citation>();
        var legend = new List<string>();
        var budget = settings.MaxContextTokens;
        foreach (var hit in result.Hits)
        {
            if (PassageScreen.Screen(screen, hit.Title, hit.Heading, hit.Content, "document") is not { } passage)
            {
                continue;
            }

            var cost = TokenCounter.Count(passage.Content) + 8;
            if (items.Count > 0 && cost > budget)
            {
                break;
            }

            budget -= cost;
            var id = SourceIdPrefix + (items.Count + 1).ToString(CultureInfo.InvariantCulture);
            items.Add(new PromptBlockItem(id, passage.Content));
            citations.Add(new Citation(hit.DocumentId, hit.Title, hit.ChunkId, hit.Page));
            legend.Add($"{id} = \"{passage.Title}\"" + (passage.Heading is null ? "" : $" ({passage.Heading})") + PageLabel(hit));
        }

        var instruction = LlmPromptBlocks.SourcesInstruction + " Sources: " + string.Join("; ", legend) + ".";
        return new ChatContextBlock(LlmPromptBlocks.Format(LlmPromptBlocks.SourcesHeading, items, instruction), [], citations);
    }

    /// <summary>", p. 3" or ", pp. 3-4" for a passage of a paged document, so the model can cite the page.</summary>
    internal static string PageLabel(DocumentSearchHit hit) => hit.Page switch
    {
        null => "",
        var page when hit.PageEnd is { } end && end != page => string.Create(CultureInfo.InvariantCulture, $", pp. {page}-{end}"),
        var page => string.Create(CultureInfo.InvariantCulture, $", p. {page}"),
    };
}
