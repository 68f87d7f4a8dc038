using System.Text.Json;
using System.Text.Json.Nodes;
using AspireAi.Core.Llm;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspireAi.Offline;

/// <summary>
/// Deterministic rules that answer one structured-output schema for the offline model, e.g. memory fact extraction
/// or consolidation decisions. When a request's <c>ChatOptions.ResponseFormat</c> is a JSON schema whose
/// <c>SchemaName</c> equals <see cref="SchemaName"/> (ordinal, case-insensitive), the offline model returns what
/// <see cref="Respond"/> builds; otherwise it fills the schema generically. Register with
/// <see cref="OfflineStructuredResponderExtensions.AddOfflineStructuredResponder{T}"/>.
/// </summary>
public interface IOfflineStructuredResponder
{
    /// <summary>The schema name this responder answers (<c>ChatResponseFormat.ForJsonSchema(schema, schemaName: ...)</c>).</summary>
    string SchemaName { get; }

    /// <summary>
    /// The JSON answer, which must validate against <see cref="OfflineStructuredRequest.Schema"/> (the offline model
    /// checks and throws <see cref="InvalidOperationException"/> when it does not, so a broken rule fails its tests);
    /// null to let the generic schema filler answer instead. Asynchronous so that a rule may ask the local embedder.
    /// </summary>
    ValueTask<JsonNode?> RespondAsync(OfflineStructuredRequest request, CancellationToken cancellationToken);
}

/// <summary>What a structured-output request carries, pre-digested for rule-based responders.</summary>
public sealed class OfflineStructuredRequest
{
    /// <summary>The schema name from the response format.</summary>
    public required string SchemaName { get; init; }

    /// <summary>The JSON schema the answer must satisfy.</summary>
    public required JsonElement Schema { get; init; }

    /// <summary>The full conversation as sent.</summary>
    public required IReadOnlyList<ChatMessage> Messages { get; init; }

    /// <summary>Text of the last user message ("" when there is none).</summary>
    public required string UserText { get; init; }

    /// <summary>Texts of the system messages, in order (including any memories/sources blocks).</summary>
    public required IReadOnlyList<string> SystemTexts { get; init; }

    /// <summary>Items of <c>## Memories</c> blocks (see <see cref="LlmPromptBlocks"/>).</summary>
    public required IReadOnlyList<PromptBlockItem> Memories { get; init; }

    /// <summary>Items of <c>## Sources</c> blocks.</summary>
    public required IReadOnlyList<PromptBlockItem> Sources { get; init; }

    /// <summary>The clock of the offline model, for timestamps in answers.</summary>
    public required DateTimeOffset Now { get; init; }
}

/// <summary>Registration of <see cref="IOfflineStructuredResponder"/>s.</summary>
public static class OfflineStructuredResponderExtensions
{
    /// <summary>Adds a responder (singleton); several may be registered, one per schema name.</summary>
    public static IServiceCollection AddOfflineStructuredResponder<T>(this IServiceCollection services)
        where T : class, IOfflineStructuredResponder
    {
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IOfflineStructuredResponder, T>());
        return services;
    }
}
