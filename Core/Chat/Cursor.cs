using System.Buffers.Text;
using System.Globalization;
using System.Text;

namespace AspireAi.Core.Chat;

/// <summary>
/// Opaque keyset-pagination cursors. Clients get a base64url token and hand it back; its content (the sort key of
/// the last row seen) is ours to change. A token that does not decode is the caller's error, never a 500.
/// </summary>
public static class Cursor
{
    public static string Encode(params string[] parts) =>
        Base64Url.EncodeToString(Encoding.UTF8.GetBytes(string.Join('|', parts)));

    public static bool TryDecode(string? token, int expectedParts, out string[] parts)
    {
        parts = [];
        if (string.IsNullOrEmpty(token) || token.Length > 200)
        {
            return false;
        }
        try
        {
            parts = Encoding.UTF8.GetString(Base64Url.DecodeFromChars(token)).Split('|');
            return parts.Length == expectedParts;
        }
        catch (FormatException)
        {
            return false;
        }
    }

    public static string EncodeTime(DateTimeOffset value) => value.UtcTicks.ToString(CultureInfo.InvariantCulture);

    public static bool TryDecodeTime(string text, out DateTimeOffset value)
    {
        value = default;
        if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out var ticks)
            || ticks < DateTimeOffset.MinValue.UtcTicks || ticks > DateTimeOffset.MaxValue.UtcTicks)
        {
            return false;
        }
        value = new DateTimeOffset(ticks, TimeSpan.Zero);
        return true;
    }
}
