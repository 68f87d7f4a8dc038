using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Encryption;

/// <summary>
/// Encryption at rest (section "Encryption"). The master key wraps the per-organisation data keys; it comes from the
/// AppHost's secret parameter <c>encryption-master-key</c> (environment <c>Encryption__MasterKey</c>), never from the
/// database. Keys are base64 of 32 random bytes (<c>openssl rand -base64 32</c>).
/// </summary>
public sealed class EncryptionOptions : IValidatableObject
{
    public const string SectionName = "Encryption";

    /// <summary>The current master key: new and re-wrapped data keys are wrapped with it.</summary>
    public string? MasterKey { get; set; }

    /// <summary>Master keys rotated out: data keys still wrapped with one of them are unwrapped with it until the
    /// rotation job (<c>encryption.rotate</c>, mode <c>rewrap</c>) has re-wrapped them with <see cref="MasterKey"/>.</summary>
    public List<string> PreviousMasterKeys { get; set; } = [];

    /// <summary>Rows written before encryption (no key id) are read as the plain text they hold. Switch it off once
    /// the rotation job has encrypted them, so that a plain row written into the database directly is refused.</summary>
    public bool AllowPlaintextRows { get; set; } = true;

    /// <summary>How long a process keeps using an organisation's active data key before looking again (a rotation's
    /// new key reaches every process within this time; rows written meanwhile stay readable under the old key).</summary>
    [Range(1, 3600)]
    public int ActiveKeyCacheSeconds { get; set; } = 30;

    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrWhiteSpace(MasterKey))
        {
            yield return new ValidationResult(
                "Encryption:MasterKey is not set. Give it 32 random bytes in base64 (openssl rand -base64 32): the AppHost's " +
                "'encryption-master-key' parameter, or the Encryption__MasterKey environment variable.", [nameof(MasterKey)]);
        }
        else if (MasterKeyRing.TryDecode(MasterKey) is null)
        {
            yield return new ValidationResult(
                "Encryption:MasterKey must be base64 of exactly 32 bytes (256 bits); the value given is shorter, longer or not base64.",
                [nameof(MasterKey)]);
        }
        for (var i = 0; i < PreviousMasterKeys.Count; i++)
        {
            if (MasterKeyRing.TryDecode(PreviousMasterKeys[i]) is null)
            {
                yield return new ValidationResult(
                    $"Encryption:PreviousMasterKeys:{i} must be base64 of exactly 32 bytes (256 bits).", [nameof(PreviousMasterKeys)]);
            }
        }
    }
}
