using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;
using AspireAi.Web.ApiClients;

namespace AspireAi.Web.Account;

// Exchanges a refresh token for new tokens. Refresh tokens rotate: once one has been spent it is dead, yet
// several requests of one user (a page and its parallel fetches, two tabs) can find the access token
// expired at the same moment, all carrying the same refresh token in their cookie. Only the first may spend
// it; the others must get the tokens it obtained. So refreshes are serialised per user, and each result is
// remembered for a short grace period under the refresh token it replaced.
// The memory is per process: several Web replicas need sticky sessions (or this moved to a shared store).
internal sealed partial class TokenRefresher(
    IHttpClientFactory httpClientFactory,
    TimeProvider time,
    ILogger<TokenRefresher> logger) : IDisposable
{
    private const int StripeCount = 64;
    private static readonly TimeSpan RotationGrace = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan RefreshTimeout = TimeSpan.FromSeconds(30);

    // Striped rather than one semaphore per user, so memory stays bounded however many users come and go.
    private readonly SemaphoreSlim[] _stripes = [.. Enumerable.Range(0, StripeCount).Select(_ => new SemaphoreSlim(1, 1))];
    private readonly ConcurrentDictionary<string, Rotation> _rotations = new(StringComparer.Ordinal);

    // Null when the Api refused the refresh token (expired, revoked, already spent): the session is over.
    public async Task<UserTokens?> RefreshAsync(string userKey, UserTokens stale, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stale);

        var key = RotationKey(userKey, stale.RefreshToken);
        var stripe = _stripes[(uint)StringComparer.Ordinal.GetHashCode(userKey) % StripeCount];
        await stripe.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            var now = time.GetUtcNow();
            if (_rotations.TryGetValue(key, out var rotation) && rotation.ExpiresAt > now)
            {
                LogRotationReused();
                return rotation.Tokens;
            }

            if (stale.RefreshTokenExpired(now))
            {
                LogRefreshTokenExpired();
                return null;
            }

            Prune(now);

            TokenResponse response;
            try
            {
                // Deliberately not the caller's token: once the Api has rotated the refresh token its successor
                // must be kept, even if the browser that caused the refresh has gone away meanwhile.
                using var timeout = new CancellationTokenSource(RefreshTimeout, time);
                var client = new ApiAuthClient(httpClientFactory.CreateClient(nameof(ApiAuthClient)), time);
                response = await client.RefreshAsync(stale.RefreshToken, timeout.Token).ConfigureAwait(false);
            }
            catch (ApiException ex) when (ex.Status is 400 or 401 or 403)
            {
                LogRefreshRejected(ex.Status);
                return null;
            }

            var fresh = UserTokens.From(response, time.GetUtcNow());
            _rotations[key] = new Rotation(fresh, now + RotationGrace);
            LogRefreshed(fresh.AccessTokenExpiresAt);
            return fresh;
        }
        finally
        {
            stripe.Release();
        }
    }

    public void Dispose()
    {
        foreach (var stripe in _stripes)
        {
            stripe.Dispose();
        }
    }

    private void Prune(DateTimeOffset now)
    {
        foreach (var (key, rotation) in _rotations)
        {
            if (rotation.ExpiresAt <= now)
            {
                _rotations.TryRemove(key, out _);
            }
        }
    }

    // A hash, so the dictionary never holds a usable refresh token as its key.
    private static string RotationKey(string userKey, string refreshToken) =>
        Convert.ToHexString(SHA256.HashData(Encoding.UTF8.GetBytes($"{userKey}\n{refreshToken}")));

    private sealed record Rotation(UserTokens Tokens, DateTimeOffset ExpiresAt);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refreshed the user's Api tokens; the access token expires at {ExpiresAt:o}")]
    private partial void LogRefreshed(DateTimeOffset expiresAt);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Another request of the user already refreshed the Api tokens; using its result")]
    private partial void LogRotationReused();

    [LoggerMessage(Level = LogLevel.Information, Message = "The user's refresh token has expired; the session ends")]
    private partial void LogRefreshTokenExpired();

    [LoggerMessage(Level = LogLevel.Warning, Message = "The Api refused to refresh the user's tokens (HTTP {Status}); the session ends")]
    private partial void LogRefreshRejected(int status);
}
