using AspireAi.Core.Identity;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AspireAi.Tests.Auth;

/// <summary>A clock that says what the test wants.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Builds access tokens the Api did not issue: forged, tampered, or issued at another time.</summary>
internal static class TestTokens
{
    private static readonly JsonWebTokenHandler Handler = new() { SetDefaultTimesOnTokenCreation = false };

    /// <summary>
    /// A token shaped like the ones the Api issues (a 15-minute lifetime from <paramref name="issuedAt"/>, by default
    /// now), signed with <paramref name="signingKey"/>; every other argument changes one thing about it.
    /// </summary>
    public static string Create(string signingKey, CurrentUser user, DateTimeOffset? issuedAt = null,
        string issuer = "aspireai", string audience = "aspireai-api", string algorithm = SecurityAlgorithms.HmacSha256,
        string? role = null, bool withSession = true)
    {
        var at = issuedAt ?? DateTimeOffset.UtcNow;
        var claims = new Dictionary<string, object>
        {
            [AspireAiClaims.UserId] = user.UserId.ToString(),
            [AspireAiClaims.OrgId] = user.OrgId.ToString(),
            [AspireAiClaims.Role] = role ?? user.Role,
            [AspireAiClaims.Email] = user.Email,
            [AspireAiClaims.TokenId] = Guid.NewGuid().ToString("N"),
        };
        if (withSession)
        {
            claims[AspireAiClaims.SessionId] = Guid.NewGuid().ToString();
        }
        return Handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = issuer,
            Audience = audience,
            IssuedAt = at.UtcDateTime,
            NotBefore = at.UtcDateTime,
            Expires = at.AddMinutes(15).UtcDateTime,
            Claims = claims,
            SigningCredentials = new SigningCredentials(new SymmetricSecurityKey(Convert.FromBase64String(signingKey)), algorithm),
        });
    }

    /// <summary>The same token with <paramref name="header"/> instead of its own and no signature at all.</summary>
    public static string Unsigned(string token, string header) =>
        $"{Base64UrlEncoder.Encode(header)}.{token.Split('.')[1]}.";

    /// <summary>The same token with its payload replaced but the original signature kept.</summary>
    public static string ReplacePayload(string token, Func<string, string> change)
    {
        var parts = token.Split('.');
        return $"{parts[0]}.{Base64UrlEncoder.Encode(change(Base64UrlEncoder.Decode(parts[1])))}.{parts[2]}";
    }

    /// <summary>The token's <c>sid</c>, read without validation.</summary>
    public static Guid SessionId(string token) => Guid.Parse(new JsonWebToken(token).GetClaim(AspireAiClaims.SessionId).Value);
}
