using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using Microsoft.Extensions.Options;

namespace AspireAi.Tests.Auth;

/// <summary>A clock that says what the test wants.</summary>
internal sealed class ManualTimeProvider(DateTimeOffset now) : TimeProvider
{
    public DateTimeOffset Now { get; set; } = now;

    public override DateTimeOffset GetUtcNow() => Now;
}

/// <summary>Builds access tokens by hand: forged, tampered, or issued at another time.</summary>
internal static class TestTokens
{
    public static HmacAccessTokenService Service(string signingKey, TimeProvider? time = null) =>
        new(Options.Create(new AuthOptions { SigningKey = signingKey }), time ?? TimeProvider.System);

    public static string Encode(string json) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(json));

    public static string Decode(string part) => Encoding.UTF8.GetString(Base64Url.DecodeFromChars(part));

    public static string Sign(string signingKey, string header, string payload)
    {
        var input = $"{Encode(header)}.{Encode(payload)}";
        var signature = HMACSHA256.HashData(Convert.FromBase64String(signingKey), Encoding.ASCII.GetBytes(input));
        return $"{input}.{Base64Url.EncodeToString(signature)}";
    }

    /// <summary>A payload like the ones we issue, for <paramref name="user"/>, valid now.</summary>
    public static string Payload(CurrentUser user, string issuer = "aspireai", DateTimeOffset? now = null, string? role = null)
    {
        var at = (now ?? DateTimeOffset.UtcNow).ToUnixTimeSeconds();
        return JsonSerializer.Serialize(new Dictionary<string, object>
        {
            ["iss"] = issuer,
            ["sub"] = user.UserId,
            ["org"] = user.OrgId,
            ["role"] = role ?? user.Role,
            ["email"] = user.Email,
            ["jti"] = Guid.NewGuid().ToString("N"),
            ["iat"] = at,
            ["exp"] = at + 900,
        });
    }

    /// <summary>The same token with its payload replaced but the original signature kept.</summary>
    public static string ReplacePayload(string token, Func<string, string> change)
    {
        var parts = token.Split('.');
        return $"{parts[0]}.{Encode(change(Decode(parts[1])))}.{parts[2]}";
    }
}
