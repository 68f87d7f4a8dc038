using System.ComponentModel.DataAnnotations;

namespace AspireAi.Api.ApiKeys;

public sealed record CreateApiKeyRequest(
    [Required, MaxLength(100)] string Name,
    [Range(1, 3650)] int? ExpiresInDays);

/// <summary>Returned once, on creation: <see cref="Key"/> cannot be retrieved again.</summary>
public sealed record CreatedApiKeyResponse(Guid Id, string Name, string Prefix, string Key, DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

public sealed record ApiKeyResponse(Guid Id, string Name, string Prefix, DateTimeOffset CreatedAt, DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt);

public sealed record ApiKeyList(IReadOnlyList<ApiKeyResponse> Items);
