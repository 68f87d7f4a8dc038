using System.Text.Json;

namespace AspireAi.Api.Documents;

// The bodies of /v1/documents. They carry no validation attributes on purpose: most of their limits come from
// configuration (query length, topK, upload sizes), and attribute validation answers before the handler runs, so a
// request with one attribute error and one configured-limit error would be told only of the first.

/// <summary>JSON upload of text: <c>{ "title": "...", "text": "...", "format": "txt|md|html", "scope": "user|org", "tags": [] }</c>.</summary>
public sealed record CreateTextDocumentRequest(string? Title, string? Text, string? Format, string? Scope, IReadOnlyList<string>? Tags);

/// <summary>JSON bulk upload: many texts into one scope.</summary>
public sealed record BulkTextDocumentsRequest(IReadOnlyList<CreateTextDocumentRequest?>? Documents, string? Scope);

public sealed record SearchDocumentsRequest(string? Query, int? TopK, IReadOnlyList<Guid>? DocumentIds, IReadOnlyList<string>? Tags, string? Scope);

public sealed record DocumentAcceptedResponse(Guid Id, string Status, string Title, bool Duplicate);

public sealed record BatchAcceptedResponse(Guid BatchId, int Total, IReadOnlyList<DocumentAcceptedResponse> Documents);

public sealed record DocumentResponse(
    Guid Id, string Title, string Scope, string Format, string? FileName, long SizeBytes, IReadOnlyList<string> Tags, string Status,
    string? FailureReason, int ChunkCount, int EmbeddedChunks, string? EmbeddingModel, JsonElement Metadata, bool CanDelete,
    DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt, DateTimeOffset? ReadyAt);

public sealed record ChunkResponse(Guid Id, Guid DocumentId, int Ordinal, string? Heading, string Content, int TokenCount, string EmbeddingModel);

public sealed record PageResponse<T>(IReadOnlyList<T> Items, string? NextCursor);

public sealed record SearchHitResponse(
    Guid DocumentId, string Title, Guid ChunkId, int Ordinal, string? Heading, string Content, double? Similarity, double Score,
    int? VectorRank, int? TextRank, bool FullTextMatch, int? Page);

public sealed record SearchResponse(
    string Query, string Model, bool LowConfidence, double? BestSimilarity, double Threshold, double LatencyMs, IReadOnlyList<SearchHitResponse> Results);

public sealed record BatchItemResponse(int Position, Guid? DocumentId, string? Title, string Status, string? FailureReason, bool Duplicate);

public sealed record BatchResponse(
    Guid Id, int Total, IReadOnlyDictionary<string, int> Counts, int Deleted, bool Completed, DateTimeOffset CreatedAt, IReadOnlyList<BatchItemResponse> Items);
