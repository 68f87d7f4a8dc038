using System.Text.Json;

namespace AspireAi.Workers.Jobs;

/// <summary>A job this worker holds the lease of. Its (id, attempt, worker) triple fences every later write.</summary>
internal sealed record ClaimedJob(
    long Id, string Type, JsonElement Payload, int Attempt, int MaxAttempts, int Priority, string? DedupeKey,
    string? TraceParent, string? TraceState, DateTimeOffset CreatedAt, DateTimeOffset RunAt);

/// <summary>A job taken back from a worker whose lease expired: requeued, or dead if that was its last attempt.</summary>
internal sealed record ReclaimedJob(long Id, string Type, int Attempt, string Status, string PreviousOwner);
