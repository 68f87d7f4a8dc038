using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Identity.Tokens;

/// <summary>
/// Compact JWTs (RFC 7519) signed with HMAC-SHA256: <c>base64url(header).base64url(payload).base64url(signature)</c>.
/// Written here because System.IdentityModel.Tokens.Jwt is not available; it accepts exactly the tokens it issues
/// (<c>alg</c> must be <c>HS256</c>, so <c>none</c> and algorithm-confusion tokens are refused before any other work).
/// </summary>
public sealed class HmacAccessTokenService : IAccessTokenService
{
    // Far above any token we issue (about 400 bytes); bounds the work an attacker can make us do.
    private const int MaxTokenLength = 4096;
    private const int SignatureBytes = 32;

    private static readonly string EncodedHeader = Base64Url.EncodeToString("""{"alg":"HS256","typ":"JWT"}"""u8);

    private readonly byte[] _key;
    private readonly string _issuer;
    private readonly TimeSpan _lifetime;
    private readonly TimeSpan _clockSkew;
    private readonly TimeProvider _time;

    /// <summary>Creates the service from validated <see cref="AuthOptions"/>.</summary>
    public HmacAccessTokenService(IOptions<AuthOptions> options, TimeProvider time)
    {
        ArgumentNullException.ThrowIfNull(options);
        var value = options.Value;
        _key = value.GetSigningKeyBytes();
        _issuer = value.Issuer;
        _lifetime = TimeSpan.FromMinutes(value.AccessTokenMinutes);
        _clockSkew = TimeSpan.FromSeconds(value.ClockSkewSeconds);
        _time = time;
    }

    /// <inheritdoc/>
    public IssuedAccessToken Issue(CurrentUser user, Guid? sessionId = null)
    {
        ArgumentNullException.ThrowIfNull(user);
        var now = _time.GetUtcNow();
        // Whole seconds: NumericDate has no fractions, and the reported expiry must match the token's.
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        var expiresAt = issuedAt + _lifetime;
        var tokenId = Guid.NewGuid().ToString("N");

        var payload = new ArrayBufferWriter<byte>(256);
        using (var json = new Utf8JsonWriter(payload))
        {
            json.WriteStartObject();
            json.WriteString("iss", _issuer);
            json.WriteString(AspireAiClaims.UserId, user.UserId);
            json.WriteString(AspireAiClaims.OrgId, user.OrgId);
            json.WriteString(AspireAiClaims.Role, user.Role);
            json.WriteString(AspireAiClaims.Email, user.Email);
            json.WriteString(AspireAiClaims.TokenId, tokenId);
            if (sessionId is { } session)
            {
                json.WriteString(AspireAiClaims.SessionId, session);
            }
            json.WriteNumber("iat", issuedAt.ToUnixTimeSeconds());
            json.WriteNumber("exp", expiresAt.ToUnixTimeSeconds());
            json.WriteEndObject();
        }

        var signingInput = EncodedHeader + "." + Base64Url.EncodeToString(payload.WrittenSpan);
        var signature = HMACSHA256.HashData(_key, Encoding.ASCII.GetBytes(signingInput));
        return new IssuedAccessToken(signingInput + "." + Base64Url.EncodeToString(signature), tokenId, expiresAt);
    }

    /// <inheritdoc/>
    public AccessTokenValidation Validate(string token)
    {
        if (string.IsNullOrEmpty(token) || token.Length > MaxTokenLength)
        {
            return AccessTokenValidation.Failure("malformed token");
        }
        var firstDot = token.IndexOf('.', StringComparison.Ordinal);
        var secondDot = firstDot < 0 ? -1 : token.IndexOf('.', firstDot + 1);
        if (firstDot <= 0 || secondDot <= firstDot + 1 || secondDot == token.Length - 1
            || token.IndexOf('.', secondDot + 1) >= 0)
        {
            return AccessTokenValidation.Failure("malformed token");
        }

        // The header decides nothing: it must say exactly what we issue, so "none" or another algorithm is refused
        // before any signature is computed.
        if (TryDecode(token.AsSpan(0, firstDot)) is not { } header || !IsExpectedHeader(header))
        {
            return AccessTokenValidation.Failure("unsupported token header (alg must be HS256)");
        }

        var signingInput = token.AsSpan(0, secondDot);
        var signature = TryDecode(token.AsSpan(secondDot + 1));
        if (signature is not { Length: SignatureBytes })
        {
            return AccessTokenValidation.Failure("bad signature");
        }
        Span<byte> expected = stackalloc byte[SignatureBytes];
        var inputBytes = ArrayPool<byte>.Shared.Rent(signingInput.Length);
        try
        {
            var length = Encoding.ASCII.GetBytes(signingInput, inputBytes);
            HMACSHA256.HashData(_key, inputBytes.AsSpan(0, length), expected);
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(inputBytes);
        }
        if (!CryptographicOperations.FixedTimeEquals(expected, signature))
        {
            return AccessTokenValidation.Failure("bad signature");
        }

        if (TryDecode(token.AsSpan(firstDot + 1, secondDot - firstDot - 1)) is not { } payload)
        {
            return AccessTokenValidation.Failure("malformed payload");
        }
        return ValidatePayload(payload);
    }

    private AccessTokenValidation ValidatePayload(byte[] payload)
    {
        try
        {
            using var document = JsonDocument.Parse(payload);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object
                || GetString(root, "iss") != _issuer
                || !Guid.TryParse(GetString(root, AspireAiClaims.UserId), out var userId)
                || !Guid.TryParse(GetString(root, AspireAiClaims.OrgId), out var orgId)
                || GetString(root, AspireAiClaims.Role) is not { } role || !AspireAiRoles.IsKnown(role)
                || GetString(root, AspireAiClaims.Email) is not { Length: > 0 } email
                || GetString(root, AspireAiClaims.TokenId) is not { Length: > 0 } tokenId
                || GetSeconds(root, "iat") is not { } issuedAt
                || GetSeconds(root, "exp") is not { } expiresAt)
            {
                return AccessTokenValidation.Failure("missing or invalid claims");
            }

            // Optional (tokens issued outside a session have none), but when present it must be a session id.
            Guid? sessionId = null;
            if (root.TryGetProperty(AspireAiClaims.SessionId, out _))
            {
                if (!Guid.TryParse(GetString(root, AspireAiClaims.SessionId), out var session))
                {
                    return AccessTokenValidation.Failure("invalid session claim");
                }
                sessionId = session;
            }

            var now = _time.GetUtcNow();
            if (now >= expiresAt + _clockSkew)
            {
                return AccessTokenValidation.Failure("token expired");
            }
            if (issuedAt > now + _clockSkew)
            {
                return AccessTokenValidation.Failure("token issued in the future");
            }
            return AccessTokenValidation.Success(new CurrentUser(userId, orgId, role, email), tokenId, expiresAt, sessionId);
        }
        catch (JsonException)
        {
            return AccessTokenValidation.Failure("malformed payload");
        }
    }

    private static bool IsExpectedHeader(byte[] header)
    {
        try
        {
            using var document = JsonDocument.Parse(header);
            var root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object)
            {
                return false;
            }
            var algorithmOk = false;
            foreach (var property in root.EnumerateObject())
            {
                switch (property.Name)
                {
                    // Ordinal and case-sensitive: "hs256", "none", "HS512", "RS256" ... are all refused.
                    case "alg": algorithmOk = property.Value.ValueKind == JsonValueKind.String && property.Value.ValueEquals("HS256"); break;
                    case "typ": if (property.Value.ValueKind != JsonValueKind.String || !property.Value.ValueEquals("JWT")) { return false; } break;
                    // Anything else (crit, kid, jku, x5u ...) asks for behaviour we do not implement.
                    default: return false;
                }
            }
            return algorithmOk;
        }
        catch (JsonException)
        {
            return false;
        }
    }

    private static byte[]? TryDecode(ReadOnlySpan<char> encoded)
    {
        if (!Base64Url.IsValid(encoded, out var length))
        {
            return null;
        }
        var bytes = new byte[length];
        return Base64Url.TryDecodeFromChars(encoded, bytes, out var written) && written == length ? bytes : null;
    }

    private static string? GetString(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    private static DateTimeOffset? GetSeconds(JsonElement root, string name) =>
        root.TryGetProperty(name, out var value) && value.ValueKind == JsonValueKind.Number && value.TryGetInt64(out var seconds)
            && seconds is >= 0 and <= 253402300799 // DateTimeOffset's range
            ? DateTimeOffset.FromUnixTimeSeconds(seconds)
            : null;
}
