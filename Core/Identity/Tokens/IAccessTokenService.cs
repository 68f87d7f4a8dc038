namespace AspireAi.Core.Identity.Tokens;

/// <summary>Issues and validates the short-lived access tokens the Api accepts as <c>Authorization: Bearer</c>.</summary>
public interface IAccessTokenService
{
    /// <summary>
    /// A new signed access token for <paramref name="user"/>, valid for <see cref="AuthOptions.AccessTokenMinutes"/>,
    /// naming the session (refresh-token family) it belongs to, so that ending the session ends the token too.
    /// </summary>
    IssuedAccessToken Issue(CurrentUser user, Guid? sessionId = null);

    /// <summary>Checks the token's format, algorithm, signature, issuer and lifetime; never throws for bad input.</summary>
    AccessTokenValidation Validate(string token);
}

/// <summary>A freshly issued access token.</summary>
/// <param name="Token">The compact JWT to hand to the client.</param>
/// <param name="TokenId">Its <c>jti</c>.</param>
/// <param name="ExpiresAt">Its <c>exp</c>.</param>
public sealed record IssuedAccessToken(string Token, string TokenId, DateTimeOffset ExpiresAt);

/// <summary>The outcome of <see cref="IAccessTokenService.Validate"/>: either the token's claims or why it was refused.</summary>
public sealed record AccessTokenValidation
{
    private AccessTokenValidation(CurrentUser? user, string? tokenId, DateTimeOffset expiresAt, Guid? sessionId, string? error)
    {
        User = user;
        TokenId = tokenId;
        ExpiresAt = expiresAt;
        SessionId = sessionId;
        Error = error;
    }

    /// <summary>The token's <c>sid</c>: the session it belongs to, when valid and issued for one.</summary>
    public Guid? SessionId { get; }

    /// <summary>The user the token was issued to, when valid.</summary>
    public CurrentUser? User { get; }

    /// <summary>The token's <c>jti</c>, when valid.</summary>
    public string? TokenId { get; }

    /// <summary>The token's <c>exp</c>, when valid.</summary>
    public DateTimeOffset ExpiresAt { get; }

    /// <summary>Why the token was refused (for logs, never for clients), or null when it is valid.</summary>
    public string? Error { get; }

    /// <summary>Whether the token is valid.</summary>
    public bool IsValid => Error is null;

    /// <summary>A successful validation.</summary>
    public static AccessTokenValidation Success(CurrentUser user, string tokenId, DateTimeOffset expiresAt, Guid? sessionId = null) =>
        new(user, tokenId, expiresAt, sessionId, null);

    /// <summary>A refused token.</summary>
    public static AccessTokenValidation Failure(string error) => new(null, null, default, null, error);
}
