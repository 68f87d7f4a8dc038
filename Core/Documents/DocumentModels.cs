using System.Text.Json;

namespace AspireAi.Core.Documents;

/// <summary>A document's lifecycle: queued → parsing → embedding → ready, or failed with a reason.</summary>
public static class DocumentStatus
{
    public const string Queued = "queued";
    public const string Parsing = "parsing";
    public const string Embedding = "embedding";
    public const string Ready = "ready";
    public const string Failed = "failed";

    public static IReadOnlyList<string> All { get; } = [Queued, Parsing, Embedding, Ready, Failed];

    public static bool IsValid(string? status) => status is not null && All.Contains(status, StringComparer.Ordinal);
}

/// <summary>Who sees a document: its uploader only ("user") or everyone in the organisation ("org", admins upload).</summary>
public static class DocumentScope
{
    public const string User = "user";
    public const string Org = "org";

    public static bool IsValid(string? scope) => scope is User or Org;
}

/// <summary>A document as stored (without its content).</summary>
public sealed record DocumentRecord(
    Guid Id, Guid OrgId, Guid OwnerUserId, string Scope, string Title, string? FileName, string Format, long SizeBytes,
    IReadOnlyList<string> Tags, string Status, string? FailureReason, int ChunkCount, int EmbeddedChunks, string? EmbeddingModel,
    JsonElement Metadata, DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ReadyAt);

/// <summary>A new upload, validated by the caller.</summary>
/// <param name="Title">Title; null takes the one found in the document, or the file name.</param>
public sealed record NewDocument(string? Title, string? FileName, string Format, ReadOnlyMemory<byte> Content, string Scope, IReadOnlyList<string> Tags);

/// <summary>What an upload did: created and queued a document, or found the same content already in the scope.</summary>
public sealed record DocumentUpload(Guid Id, string Status, string Title, bool Duplicate);

/// <summary>A chunk as the API shows it.</summary>
public sealed record DocumentChunkRecord(Guid Id, Guid DocumentId, int Ordinal, string? Heading, string Content, int TokenCount, string EmbeddingModel);

/// <summary>The progress of a bulk upload: documents per status.</summary>
public sealed record DocumentBatchProgress(
    Guid Id, int Total, IReadOnlyDictionary<string, int> Counts, int Deleted, bool Completed, DateTimeOffset CreatedAt,
    IReadOnlyList<DocumentBatchItem> Items);

public sealed record DocumentBatchItem(int Position, Guid? DocumentId, string? Title, string Status, string? FailureReason, bool Duplicate);

/// <summary>One page of a keyset-paginated list.</summary>
public sealed record DocumentPage<T>(IReadOnlyList<T> Items, string? NextCursor);
