using System.ComponentModel.DataAnnotations;

namespace AspireAi.Api.Auth;

public sealed record RegisterRequest(
    [Required, EmailAddress, MaxLength(254)] string Email,
    [Required, MinLength(12), MaxLength(256)] string Password,
    [Required, MaxLength(100)] string DisplayName);

/// <summary>
/// The answer to a registration, the same whether the address was new or already had an account, so that the
/// endpoint cannot be used to find out who has one.
/// </summary>
public sealed record RegisterResponse(string Email, string Message);

public sealed record TokenRequest(
    [Required, MaxLength(254)] string Email,
    [Required, MaxLength(256)] string Password);

public sealed record RefreshRequest([Required, MaxLength(128)] string RefreshToken);

public sealed record LogoutRequest([Required, MaxLength(128)] string RefreshToken);

/// <summary>The OAuth 2.0 token response shape (RFC 6749 §5.1); lifetimes in seconds.</summary>
public sealed record TokenResponse(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, int RefreshExpiresIn);

/// <summary><c>GET /v1/auth/me</c>: the caller as the access token names them.</summary>
public sealed record MeResponse(Guid Id, Guid OrgId, string Email, string Role);

public sealed record AdminUserResponse(Guid Id, Guid OrgId, string Email, string DisplayName, string Role,
    DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt);

/// <summary>One page of users; pass <see cref="NextCursor"/> as <c>after</c> for the next page (null on the last one).</summary>
public sealed record AdminUserPage(IReadOnlyList<AdminUserResponse> Items, Guid? NextCursor);
