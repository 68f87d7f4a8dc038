using AspireAi.Core.Redis;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using StackExchange.Redis;

namespace AspireAi.Core.Identity.Tokens;

/// <summary>
/// Ends the access tokens of a session before they expire. Access tokens are self-contained, so signing out (or a
/// detected refresh-token theft) would otherwise leave them usable for up to <see cref="AuthOptions.AccessTokenMinutes"/>.
/// A revoked session is a Redis key that lives exactly as long as any access token of that session could, shared by
/// every Api instance.
/// </summary>
/// <remarks>
/// Redis down degrades to the behaviour without revocation (tokens work until they expire; refresh tokens, revoked
/// in Postgres, still cannot renew them), logged once per outage: refusing every request while Redis is away would
/// turn a cache outage into a full one.
/// </remarks>
public sealed partial class SessionRevocations(IConnectionMultiplexer redis, IOptions<AuthOptions> options, TimeProvider time, ILogger<SessionRevocations> logger)
{
    // Checked on every authenticated request, so it must never hold one up for long; but a miss fails open (a signed
    // out token works on), so a busy moment must not count as an outage: one request per pause pays at most 1 s.
    private readonly RedisFallback _redis = new(time, timeout: TimeSpan.FromSeconds(1), pause: TimeSpan.FromSeconds(15));

    public static string Key(Guid sessionId) => $"auth:revoked-session:{sessionId:N}";

    /// <summary>Revokes the session's access tokens; false when Redis could not record it (they then run out on their own).</summary>
    public async Task<bool> RevokeAsync(Guid sessionId, CancellationToken cancellationToken = default)
    {
        // An access token issued just now, accepted up to the clock skew after it expires.
        var lifetime = TimeSpan.FromMinutes(options.Value.AccessTokenMinutes) + TimeSpan.FromSeconds(options.Value.ClockSkewSeconds);
        var (recorded, _) = await _redis.TryAsync(
            token => redis.GetDatabase().StringSetAsync(Key(sessionId), "1", lifetime).WaitAsync(token), LogUnavailable, cancellationToken).ConfigureAwait(false);
        if (!recorded)
        {
            LogNotRecorded(sessionId, options.Value.AccessTokenMinutes);
        }
        return recorded;
    }

    /// <summary>Whether the session was revoked; false when Redis cannot say (see the remarks).</summary>
    public async Task<bool> IsRevokedAsync(Guid sessionId, CancellationToken cancellationToken = default)
    {
        var (answered, revoked) = await _redis.TryAsync(
            token => redis.GetDatabase().KeyExistsAsync(Key(sessionId)).WaitAsync(token), LogUnavailable, cancellationToken).ConfigureAwait(false);
        return answered && revoked;
    }

    private void LogUnavailable(Exception error) => LogRedisUnavailable(error, (int)_redis.Pause.TotalSeconds);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Redis is unavailable for session revocation; access tokens of revoked sessions are accepted until they expire (rechecking in {Seconds} s)")]
    private partial void LogRedisUnavailable(Exception error, int seconds);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Could not record the revocation of session {SessionId}: its access tokens stay valid for up to {Minutes} min")]
    private partial void LogNotRecorded(Guid sessionId, int minutes);
}
