using System.Security.Cryptography;
using System.Text;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Encryption;

/// <summary>
/// The master keys of this process: the current one wraps data keys, the previous ones only unwrap. A key's id is
/// derived from the key itself (a hash, never the key), so a data key row names the master key that wraps it without
/// any configuration beyond the keys.
/// </summary>
public sealed class MasterKeyRing
{
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly byte[] _current;
    private readonly Dictionary<string, byte[]> _all = new(StringComparer.Ordinal);

    public MasterKeyRing(IOptions<EncryptionOptions> options)
    {
        ArgumentNullException.ThrowIfNull(options);
        // The options are validated on start; this only runs after that.
        _current = TryDecode(options.Value.MasterKey)
            ?? throw new InvalidOperationException("Encryption:MasterKey must be base64 of exactly 32 bytes.");
        CurrentId = IdOf(_current);
        _all[CurrentId] = _current;
        foreach (var previous in options.Value.PreviousMasterKeys)
        {
            var key = TryDecode(previous) ?? throw new InvalidOperationException("Encryption:PreviousMasterKeys holds a key that is not base64 of 32 bytes.");
            _all.TryAdd(IdOf(key), key);
        }
    }

    /// <summary>The id of the master key that wraps new data keys.</summary>
    public string CurrentId { get; }

    public bool Knows(string masterKeyId) => _all.ContainsKey(masterKeyId);

    public static byte[]? TryDecode(string? base64)
    {
        if (string.IsNullOrWhiteSpace(base64))
        {
            return null;
        }
        var buffer = new byte[48];
        return Convert.TryFromBase64String(base64.Trim(), buffer, out var written) && written == 32 ? buffer[..32] : null;
    }

    /// <summary>Wraps a data key with the current master key, bound (as associated data) to the row it is stored in.</summary>
    public byte[] Wrap(byte[] dataKey, Guid keyId, Guid orgId, string purpose)
    {
        ArgumentNullException.ThrowIfNull(dataKey);
        var sealedKey = new byte[NonceSize + dataKey.Length + TagSize];
        var nonce = sealedKey.AsSpan(0, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        using var aes = new AesGcm(_current, TagSize);
        aes.Encrypt(nonce, dataKey, sealedKey.AsSpan(NonceSize, dataKey.Length), sealedKey.AsSpan(NonceSize + dataKey.Length), Binding(keyId, orgId, purpose));
        return sealedKey;
    }

    /// <summary>Unwraps a data key; a wrong master key or an altered row fails authentication.</summary>
    public byte[] Unwrap(string masterKeyId, byte[] wrapped, Guid keyId, Guid orgId, string purpose)
    {
        ArgumentNullException.ThrowIfNull(wrapped);
        if (!_all.TryGetValue(masterKeyId, out var master))
        {
            throw new EncryptedDataException(
                $"Data key {keyId} is wrapped with master key {masterKeyId}, which this process does not have: add it to Encryption:PreviousMasterKeys.");
        }
        if (wrapped.Length != NonceSize + 32 + TagSize)
        {
            throw new EncryptedDataException($"Data key {keyId} has a wrapped value of the wrong length: the row was altered.");
        }
        var key = new byte[32];
        try
        {
            using var aes = new AesGcm(master, TagSize);
            aes.Decrypt(wrapped.AsSpan(0, NonceSize), wrapped.AsSpan(NonceSize, 32), wrapped.AsSpan(NonceSize + 32), key, Binding(keyId, orgId, purpose));
        }
        catch (AuthenticationTagMismatchException ex)
        {
            throw new EncryptedDataException($"Data key {keyId} failed authentication under master key {masterKeyId}: the row was altered.", ex);
        }
        return key;
    }

    private static byte[] Binding(Guid keyId, Guid orgId, string purpose) =>
        Encoding.UTF8.GetBytes($"aspireai:data-key:v1:{keyId:D}:{orgId:D}:{purpose}");

    private static string IdOf(byte[] key) =>
        "mk-" + Convert.ToHexStringLower(SHA256.HashData([.. "aspireai:master-key-id:"u8, .. key]).AsSpan(0, 8));
}
