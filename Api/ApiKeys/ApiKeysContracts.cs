using System.ComponentModel.DataAnnotations;

namespace AspireAi.Api.ApiKeys;

/// <param name="Scopes">What the key may do (<c>chat</c>, <c>memories:read</c>, <c>memories:write</c>,
/// <c>documents:read</c>, <c>documents:write</c>, <c>admin</c>); at least one, nothing by default.</param>
public sealed record CreateApiKeyRequest(
    [Required, MaxLength(100)] string Name,
    [Range(1, 3650)] int? ExpiresInDays,
    [Required, MinLength(1), MaxLength(6)] IReadOnlyList<string> Scopes);

/// <summary>Returned once, on creation: <see cref="Key"/> cannot be retrieved again.</summary>
public sealed record CreatedApiKeyResponse(Guid Id, string Name, string Prefix, string Key, IReadOnlyList<string> Scopes,
    DateTimeOffset CreatedAt, DateTimeOffset? ExpiresAt);

public sealed record ApiKeyResponse(Guid Id, string Name, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt);

public sealed record ApiKeyList(IReadOnlyList<ApiKeyResponse> Items);
