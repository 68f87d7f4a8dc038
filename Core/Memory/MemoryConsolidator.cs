using AspireAi.Core.Common;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Memory;

/// <summary>A fact and the scope it goes to.</summary>
public sealed record ScopedFact(MemoryFact Fact, MemoryScopeRef Scope);

/// <summary>What consolidating a batch of facts did, and the model calls it cost.</summary>
public sealed record ConsolidationReport(IReadOnlyList<MemoryWriteResult> Results, IReadOnlyList<MemoryModelUsage> Usage)
{
    public IReadOnlyDictionary<string, int> Counts => Results
        .GroupBy(r => MemoryNames.Of(r.Operation))
        .ToDictionary(g => g.Key, g => g.Count(), StringComparer.Ordinal);
}

/// <summary>
/// Stage 2: for each fact, fetch the most similar current memories of its scope, decide ADD / UPDATE / DELETE / NOOP
/// (<see cref="MemoryLanguageModel.DecideAsync"/>), and apply the decision with its history row — all inside the
/// caller's transaction, after taking the per-user advisory lock, so two jobs for one user never interleave and a
/// re-run after a rollback starts from the same state.
/// </summary>
public sealed partial class MemoryConsolidator(
    MemoryWriter writer, MemoryLanguageModel model, MemoryEmbedder embedder, IOptions<MemoryOptions> options, ILogger<MemoryConsolidator> logger)
{
    /// <param name="userLockHeld">A user whose lock (<see cref="MemorySql.LockUserAsync"/>) the caller's transaction
    /// already holds, as an extraction job's does: taking it again would only cost a round trip.</param>
    public async Task<ConsolidationReport> ConsolidateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects,
        IReadOnlyList<ScopedFact> facts, MemoryProvenance provenance, CancellationToken cancellationToken, Guid? userLockHeld = null)
    {
        ArgumentNullException.ThrowIfNull(facts);
        ArgumentNullException.ThrowIfNull(provenance);
        if (facts.Count == 0)
        {
            return new ConsolidationReport([], []);
        }
        // Embeddings first: a remote embedder is slow and needs no lock.
        var vectors = await embedder.EmbedAsync([.. facts.Select(f => f.Fact.Text)], cancellationToken).ConfigureAwait(false);
        await LockAsync(connection, transaction, facts.Select(f => f.Scope).Where(s => !(s.IsPersonal && s.UserId == userLockHeld)), cancellationToken)
            .ConfigureAwait(false);

        var results = new List<MemoryWriteResult>();
        var usage = new List<MemoryModelUsage>();
        for (var i = 0; i < facts.Count; i++)
        {
            var (fact, scope) = (facts[i].Fact, facts[i].Scope);
            var candidates = await writer.FindCandidatesAsync(connection, transaction, scope, fact.Text, vectors[i],
                options.Value.ConsolidationCandidates, cancellationToken).ConfigureAwait(false);
            var (decision, calls) = await model.DecideAsync(fact, candidates, scope.UserId ?? provenance.ActorUserId, cancellationToken).ConfigureAwait(false);
            usage.AddRange(calls);
            var result = await ApplyAsync(connection, transaction, effects, fact, scope, vectors[i], candidates, decision, provenance, cancellationToken).ConfigureAwait(false);
            LogDecision(result.Operation, scope.Scope, result.Memory?.Id);
            results.Add(result);
        }
        return new ConsolidationReport(results, usage);
    }

    /// <summary>Stores a text as it is (no model): ADD, or NOOP when the scope already holds the same text.</summary>
    public async Task<MemoryWriteResult> StoreVerbatimAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects,
        MemoryScopeRef scope, NewMemory memory, MemoryProvenance provenance, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(memory);
        var vector = await embedder.EmbedAsync(memory.Text, cancellationToken).ConfigureAwait(false);
        await LockAsync(connection, transaction, [scope], cancellationToken).ConfigureAwait(false);
        return await writer.AddAsync(connection, transaction, effects, scope, memory, vector, provenance, "Stored as written.", cancellationToken).ConfigureAwait(false);
    }

    private async Task<MemoryWriteResult> ApplyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, MemoryWriteEffects effects, MemoryFact fact, MemoryScopeRef scope,
        MemoryVector vector, IReadOnlyList<ConsolidationCandidate> candidates, MemoryDecision decision, MemoryProvenance provenance,
        CancellationToken cancellationToken)
    {
        var target = decision.TargetId is null ? null
            : candidates.FirstOrDefault(c => string.Equals(c.ShortId, decision.TargetId, StringComparison.OrdinalIgnoreCase))?.Memory;
        var text = MemoryText.Clean(decision.Text) ?? fact.Text;
        if (text.Length > options.Value.MaxMemoryChars || SecretDetector.ContainsSecret(text))
        {
            text = fact.Text; // a model's rewrite is held to the same rules as the fact
        }
        // The model may rewrite the text of an ADD or UPDATE; the vector must then be of that text.
        var textVector = text == fact.Text ? vector : await embedder.EmbedAsync(text, cancellationToken).ConfigureAwait(false);
        var entities = fact.Entities.Count > 0 ? fact.Entities : OfflineFactExtractor.Entities(text);
        var memory = new NewMemory(text, fact.Type, fact.Importance, entities);

        if (fact.Retraction && decision.Operation is MemoryOperation.Add or MemoryOperation.Update)
        {
            // Belt and braces behind ConsolidationRules.Guard: a retracted fact is never written.
            decision = new MemoryDecision(MemoryOperation.Noop, null, null, "A retraction never adds a memory.");
            target = null;
        }
        switch (decision.Operation)
        {
            case MemoryOperation.Update when target is not null:
                return await writer.SupersedeAsync(connection, transaction, effects, target, memory, textVector, provenance, decision.Reason, cancellationToken).ConfigureAwait(false);
            case MemoryOperation.Delete when target is not null:
                return await writer.InvalidateAsync(connection, transaction, effects, target, "retracted", provenance,
                    string.IsNullOrWhiteSpace(decision.Reason) ? "Retracted by the user." : decision.Reason, cancellationToken).ConfigureAwait(false);
            case MemoryOperation.Noop:
                return await writer.NoopAsync(connection, transaction, effects, target, fact.Text, provenance, decision.Reason, cancellationToken).ConfigureAwait(false);
            case MemoryOperation.Delete:
                // A retraction of nothing we know: nothing to do, and nothing to add.
                return await writer.NoopAsync(connection, transaction, effects, null, fact.Text, provenance, decision.Reason, cancellationToken).ConfigureAwait(false);
            default:
                return await writer.AddAsync(connection, transaction, effects, scope, memory, textVector, provenance, decision.Reason, cancellationToken).ConfigureAwait(false);
        }
    }

    // One lock per user (personal scopes) or shared scope, taken in a fixed order so two jobs cannot deadlock.
    private static async Task LockAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, IEnumerable<MemoryScopeRef> scopes, CancellationToken cancellationToken)
    {
        var distinct = scopes
            .Select(s => s.IsPersonal ? MemoryScopeRef.ForUser(s.OrgId, s.UserId!.Value) : s)
            .DistinctBy(s => s.Key)
            .OrderBy(s => s.Key, StringComparer.Ordinal);
        foreach (var scope in distinct)
        {
            await MemorySql.LockScopeAsync(connection, transaction, scope, cancellationToken).ConfigureAwait(false);
        }
    }

    // Ids only: texts and the model's reasons quote what the user said.
    [LoggerMessage(Level = LogLevel.Debug, Message = "Memory {Operation} in {Scope} scope (memory {MemoryId})")]
    private partial void LogDecision(MemoryOperation operation, MemoryScope scope, Guid? memoryId);
}
