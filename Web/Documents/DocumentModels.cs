namespace AspireAi.Web.Documents;

// The Api's document bodies (Api/Documents/DocumentsApi.cs), as Web reads them.

public sealed record Document(
    Guid Id,
    string Title,
    string Scope,
    string Format,
    string? FileName,
    long SizeBytes,
    IReadOnlyList<string> Tags,
    string Status,
    string? FailureReason,
    int ChunkCount,
    int EmbeddedChunks,
    string? EmbeddingModel,
    bool CanDelete,
    DateTimeOffset CreatedAt,
    DateTimeOffset UpdatedAt,
    DateTimeOffset? ReadyAt)
{
    // Still on its way through ingestion: the pages refresh themselves until none is.
    public bool IsPending => Status is DocumentStatuses.Queued or DocumentStatuses.Parsing or DocumentStatuses.Embedding;
}

public sealed record DocumentChunk(Guid Id, Guid DocumentId, int Ordinal, string? Heading, string Content, int TokenCount, string EmbeddingModel);

public sealed record DocumentAccepted(Guid Id, string Status, string Title, bool Duplicate);

internal sealed record CreateTextDocumentRequest(string? Title, string Text, string? Scope);

public static class DocumentStatuses
{
    public const string Queued = "queued";
    public const string Parsing = "parsing";
    public const string Embedding = "embedding";
    public const string Ready = "ready";
    public const string Failed = "failed";
}

public static class DocumentScopes
{
    public const string User = "user";
    public const string Org = "org";
}
