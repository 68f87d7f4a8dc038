using System.ComponentModel.DataAnnotations;

namespace AspireAi.Core.Identity;

/// <summary>Sign-in settings, bound from the <c>Auth</c> configuration section (e.g. <c>Auth__SigningKey</c>).</summary>
public sealed class AuthOptions : IValidatableObject
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Auth";

    /// <summary>The smallest HMAC-SHA256 key accepted, in bytes (RFC 7518 §3.2: at least the hash size).</summary>
    public const int MinSigningKeyBytes = 32;

    /// <summary>Base64 HMAC-SHA256 key that signs access tokens; at least 32 random bytes (<c>openssl rand -base64 32</c>).</summary>
    [Required(ErrorMessage = "Auth:SigningKey is not set. Set it to at least 32 random bytes in base64 (e.g. `openssl rand -base64 32`), "
        + "for example through the Auth__SigningKey environment variable.")]
    public string SigningKey { get; set; } = "";

    /// <summary>The <c>iss</c> claim written into and required from access tokens.</summary>
    [Required]
    public string Issuer { get; set; } = "aspireai";

    /// <summary>The <c>aud</c> claim written into and required from access tokens: the Api they are meant for.</summary>
    [Required]
    public string Audience { get; set; } = "aspireai-api";

    /// <summary>Access-token lifetime.</summary>
    [Range(1, 24 * 60)]
    public int AccessTokenMinutes { get; set; } = 15;

    /// <summary>Refresh-token lifetime; each rotation starts a new one.</summary>
    [Range(1, 365)]
    public int RefreshTokenDays { get; set; } = 30;

    /// <summary>Whether <c>POST /v1/auth/register</c> is open. When not configured: true in Development, false elsewhere.</summary>
    public bool? AllowRegistration { get; set; }

    /// <summary>
    /// Failed sign-ins allowed per account from one client address within <see cref="LoginWindowMinutes"/>; then that
    /// address is refused for that account (429). Other addresses are not: nobody can lock an account's owner out.
    /// </summary>
    [Range(1, 10_000)]
    public int MaxLoginFailuresPerAccount { get; set; } = 5;

    /// <summary>
    /// Failed sign-ins an account may collect from all addresses together before every further attempt on it is
    /// slowed: the answer waits <see cref="LoginSlowdownStep"/>, doubling with each further failure up to
    /// <see cref="LoginSlowdownMax"/>. The right password still signs in, only later.
    /// </summary>
    [Range(1, 100_000)]
    public int LoginSlowdownAfterFailures { get; set; } = 5;

    /// <summary>The first slowdown of a sign-in on an account under attack.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:01:00")]
    public TimeSpan LoginSlowdownStep { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>The longest slowdown of a sign-in.</summary>
    [Range(typeof(TimeSpan), "00:00:00", "00:05:00")]
    public TimeSpan LoginSlowdownMax { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Failed sign-ins allowed per client address within <see cref="LoginWindowMinutes"/>.</summary>
    [Range(1, 100_000)]
    public int MaxLoginFailuresPerIp { get; set; } = 20;

    /// <summary>The fixed window the login failure counters cover.</summary>
    [Range(1, 24 * 60)]
    public int LoginWindowMinutes { get; set; } = 15;

    /// <summary>
    /// How long an API key's lookup is kept in the shared cache (Redis), so that a busy key does not query Postgres on
    /// every request; zero looks every key up in Postgres. Revoking a key drops it at once; a user disabled or given
    /// another role straight in the database is seen by their keys within this time (see docs/operations.md).
    /// </summary>
    [Range(typeof(TimeSpan), "00:00:00", "01:00:00")]
    public TimeSpan ApiKeyCacheDuration { get; set; } = TimeSpan.FromMinutes(1);

    /// <summary>Tolerance for clock differences when checking <c>exp</c> and <c>nbf</c>.</summary>
    [Range(0, 300)]
    public int ClockSkewSeconds { get; set; } = 30;

    /// <summary>The decoded <see cref="SigningKey"/>; call only on validated options.</summary>
    public byte[] GetSigningKeyBytes() => Convert.FromBase64String(SigningKey);

    /// <inheritdoc/>
    public IEnumerable<ValidationResult> Validate(ValidationContext validationContext)
    {
        if (string.IsNullOrEmpty(SigningKey))
        {
            yield break; // [Required] already reports it.
        }
        var buffer = new byte[SigningKey.Length];
        if (!Convert.TryFromBase64String(SigningKey, buffer, out var length))
        {
            yield return new ValidationResult("Auth:SigningKey must be base64 (e.g. the output of `openssl rand -base64 32`).", [nameof(SigningKey)]);
        }
        else if (length < MinSigningKeyBytes)
        {
            yield return new ValidationResult(
                $"Auth:SigningKey is {length} bytes long; it must be at least {MinSigningKeyBytes} random bytes (e.g. `openssl rand -base64 32`).",
                [nameof(SigningKey)]);
        }
    }
}
