using Microsoft.Extensions.Options;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AspireAi.Core.Identity.Tokens;

/// <summary>
/// Issues the short-lived access tokens the Api accepts as <c>Authorization: Bearer</c>: JWTs (RFC 7519) signed with
/// HS256 under <see cref="AuthOptions.SigningKey"/>. The Api's JwtBearer scheme validates them with
/// <see cref="CreateValidationParameters"/>, so what is issued and what is accepted are defined side by side.
/// </summary>
public sealed class AccessTokenIssuer
{
    // Times come from the TimeProvider, not from the handler's own clock.
    private readonly JsonWebTokenHandler _handler = new() { SetDefaultTimesOnTokenCreation = false };
    private readonly AuthOptions _options;
    private readonly SigningCredentials _credentials;
    private readonly TimeProvider _time;

    /// <summary>Creates the issuer from validated <see cref="AuthOptions"/>.</summary>
    public AccessTokenIssuer(IOptions<AuthOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options.Value;
        _credentials = new SigningCredentials(SigningKey(_options), SecurityAlgorithms.HmacSha256);
        _time = time;
    }

    /// <summary>
    /// A new access token for <paramref name="user"/>, valid for <see cref="AuthOptions.AccessTokenMinutes"/>, naming
    /// the session (refresh-token family) it belongs to, so that ending the session ends the token too.
    /// </summary>
    public IssuedAccessToken Issue(CurrentUser user, Guid sessionId)
    {
        ArgumentNullException.ThrowIfNull(user);
        // Whole seconds: NumericDate has no fractions, and the reported expiry must match the token's.
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(_time.GetUtcNow().ToUnixTimeSeconds());
        var expiresAt = issuedAt.AddMinutes(_options.AccessTokenMinutes);
        var token = _handler.CreateToken(new SecurityTokenDescriptor
        {
            Issuer = _options.Issuer,
            Audience = _options.Audience,
            IssuedAt = issuedAt.UtcDateTime,
            NotBefore = issuedAt.UtcDateTime,
            Expires = expiresAt.UtcDateTime,
            SigningCredentials = _credentials,
            Claims = new Dictionary<string, object>
            {
                [AspireAiClaims.UserId] = user.UserId.ToString(),
                [AspireAiClaims.OrgId] = user.OrgId.ToString(),
                [AspireAiClaims.Role] = user.Role,
                [AspireAiClaims.Email] = user.Email,
                [AspireAiClaims.TokenId] = Guid.NewGuid().ToString("N"),
                [AspireAiClaims.SessionId] = sessionId.ToString(),
            },
        });
        return new IssuedAccessToken(token, expiresAt);
    }

    /// <summary>
    /// What a presented access token must satisfy: our key, HS256 only, our issuer and audience, a lifetime within
    /// <see cref="AuthOptions.ClockSkewSeconds"/>. Claim names stay as issued (<see cref="AspireAiClaims"/>).
    /// </summary>
    public static TokenValidationParameters CreateValidationParameters(AuthOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        return new TokenValidationParameters
        {
            IssuerSigningKey = SigningKey(options),
            ValidateIssuerSigningKey = true,
            // With a symmetric key, HS384/HS512 would verify too; "none" is refused by RequireSignedTokens.
            ValidAlgorithms = [SecurityAlgorithms.HmacSha256],
            ValidTypes = ["JWT"],
            ValidIssuer = options.Issuer,
            ValidAudience = options.Audience,
            RequireExpirationTime = true,
            RequireSignedTokens = true,
            ClockSkew = TimeSpan.FromSeconds(options.ClockSkewSeconds),
            NameClaimType = AspireAiClaims.Email,
            RoleClaimType = AspireAiClaims.Role,
        };
    }

    private static SymmetricSecurityKey SigningKey(AuthOptions options) => new(options.GetSigningKeyBytes());
}

/// <summary>A freshly issued access token.</summary>
/// <param name="Token">The compact JWT to hand to the client.</param>
/// <param name="ExpiresAt">Its <c>exp</c>.</param>
public sealed record IssuedAccessToken(string Token, DateTimeOffset ExpiresAt);
