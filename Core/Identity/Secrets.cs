using System.Buffers;
using System.Buffers.Text;
using System.Security.Cryptography;
using System.Text;

namespace AspireAi.Core.Identity;

/// <summary>Random secrets handed to clients, and the hashes we keep of them instead.</summary>
internal static class Secrets
{
    public const string Base62Alphabet = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";

    private static readonly SearchValues<char> Base62 = SearchValues.Create(Base62Alphabet);

    /// <summary>256 random bits, base64url: an opaque refresh token.</summary>
    public static string NewRefreshToken() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(32));

    public static string RandomBase62(int length) => RandomNumberGenerator.GetString(Base62Alphabet, length);

    public static bool IsBase62(ReadOnlySpan<char> text) => !text.ContainsAnyExcept(Base62);

    /// <summary>
    /// SHA-256 of the secret. Enough for high-entropy random secrets (no dictionary to try), and a lookup key, which a
    /// salted slow hash could not be.
    /// </summary>
    public static byte[] Hash(string secret) => SHA256.HashData(Encoding.UTF8.GetBytes(secret));
}
