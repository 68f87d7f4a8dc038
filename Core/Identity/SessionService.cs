using AspireAi.Core.Identity.Tokens;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Identity;

/// <summary>An access token and the refresh token that renews it.</summary>
public sealed record TokenPair(string AccessToken, DateTimeOffset AccessTokenExpiresAt, string RefreshToken, DateTimeOffset RefreshTokenExpiresAt);

/// <summary>The outcome of a sign-in.</summary>
public enum LoginStatus
{
    /// <summary>Tokens were issued.</summary>
    Succeeded,

    /// <summary>Unknown email, wrong password or disabled account; deliberately indistinguishable.</summary>
    InvalidCredentials,

    /// <summary>Too many failures for the account or the client address; see <see cref="LoginResult.RetryAfter"/>.</summary>
    Throttled,
}

/// <summary>The outcome of <see cref="SessionService.LoginAsync"/>.</summary>
public sealed record LoginResult(LoginStatus Status, TokenPair? Tokens = null, TimeSpan RetryAfter = default);

/// <summary>The outcome of a refresh.</summary>
public enum RefreshStatus
{
    /// <summary>A new pair was issued and the presented token revoked.</summary>
    Succeeded,

    /// <summary>Unknown token, expired token, or disabled user.</summary>
    Invalid,

    /// <summary>The token had already been rotated or revoked: its whole family is now revoked.</summary>
    ReuseDetected,
}

/// <summary>The outcome of <see cref="SessionService.RefreshAsync"/>.</summary>
public sealed record RefreshResult(RefreshStatus Status, TokenPair? Tokens = null);

/// <summary>
/// Sign-in, refresh-token rotation and sign-out. Refresh tokens are opaque random strings stored as SHA-256 hashes;
/// each refresh replaces the presented token with a new one of the same family, and presenting a replaced token
/// again (a sign that it was stolen) revokes the whole family.
/// </summary>
public sealed partial class SessionService(
    NpgsqlDataSource dataSource,
    UserAccounts accounts,
    LoginThrottle throttle,
    AccessTokenIssuer accessTokens,
    SessionRevocations revocations,
    IOptions<AuthOptions> options,
    TimeProvider time,
    ILogger<SessionService> logger)
{
    // Verified against for unknown emails, so that they cost as much time as a wrong password for a real account.
    private static readonly Lazy<string> DummyPasswordHash = new(() => AdminSeeder.HashPassword(Secrets.NewRefreshToken()));

    /// <summary>Checks the credentials under the login throttle and starts a new session (token family).</summary>
    public async Task<LoginResult> LoginAsync(string email, string password, ClientInfo client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(email);
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(client);

        var lease = await throttle.AcquireAsync(email, client.Address, cancellationToken).ConfigureAwait(false);
        if (!lease.Allowed)
        {
            LogThrottled(client.Address?.ToString());
            await IdentityAudit.WriteAsync(dataSource, new AuditEntry(null, IdentityAudit.LoginThrottled, null, null, Details(client)),
                cancellationToken).ConfigureAwait(false);
            return new LoginResult(LoginStatus.Throttled, RetryAfter: lease.RetryAfter);
        }

        if (lease.Slowdown > TimeSpan.Zero)
        {
            // The account is under attack from many places: answer late whatever the password, so guessing is slow,
            // but do answer — refusing here would let anyone lock the owner out.
            await Task.Delay(lease.Slowdown, time, cancellationToken).ConfigureAwait(false);
        }

        var credentials = await accounts.FindCredentialsAsync(email, cancellationToken).ConfigureAwait(false);
        var passwordOk = AdminSeeder.VerifyPassword(credentials?.PasswordHash ?? DummyPasswordHash.Value, password);
        if (credentials is not { } found || !passwordOk || found.Account.IsDisabled)
        {
            var reason = credentials is null ? "unknown_email" : !passwordOk ? "wrong_password" : "disabled";
            var userId = credentials?.Account.Id;
            LogLoginFailed(userId, reason);
            var details = Details(client, lease);
            details["reason"] = reason;
            await IdentityAudit.WriteAsync(dataSource, new AuditEntry(null, IdentityAudit.LoginFailed, userId is null ? null : "user",
                userId?.ToString(), details), cancellationToken).ConfigureAwait(false);
            return new LoginResult(LoginStatus.InvalidCredentials);
        }

        await throttle.RefundAsync(lease, cancellationToken).ConfigureAwait(false);
        var account = found.Account;
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var familyId = Guid.CreateVersion7();
        var refresh = await InsertRefreshTokenAsync(connection, tx, account.Id, familyId, client, cancellationToken).ConfigureAwait(false);
        await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(account.Id, IdentityAudit.LoginSucceeded, "user", account.Id.ToString(),
            Details(client, lease)), cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        LogLoggedIn(account.Id);
        return new LoginResult(LoginStatus.Succeeded, Pair(account.ToCurrentUser(), familyId, refresh));
    }

    /// <summary>
    /// Rotates a refresh token. The row is locked (SELECT ... FOR UPDATE) for the whole transaction, so of two
    /// concurrent refreshes of one token exactly one succeeds; the other then sees a rotated token, i.e. reuse.
    /// </summary>
    public async Task<RefreshResult> RefreshAsync(string refreshToken, ClientInfo client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(refreshToken);
        ArgumentNullException.ThrowIfNull(client);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        Guid tokenId, userId, familyId;
        string? revokedReason;
        bool expired, disabled;
        CurrentUser user;
        await using (var select = new NpgsqlCommand("""
            SELECT t.id, t.user_id, t.family_id, t.revoked_reason, t.expires_at <= now(),
                   u.org_id, u.role, u.email, u.disabled_at IS NOT NULL
            FROM refresh_tokens t JOIN users u ON u.id = t.user_id
            WHERE t.token_hash = $1
            FOR UPDATE OF t
            """, connection, tx))
        {
            select.Parameters.Add(new() { Value = Secrets.Hash(refreshToken) });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                LogRefreshRefused(null, "unknown token");
                return new RefreshResult(RefreshStatus.Invalid);
            }
            (tokenId, userId, familyId) = (reader.GetGuid(0), reader.GetGuid(1), reader.GetGuid(2));
            revokedReason = reader.IsDBNull(3) ? null : reader.GetString(3);
            (expired, disabled) = (reader.GetBoolean(4), reader.GetBoolean(8));
            user = new CurrentUser(userId, reader.GetGuid(5), reader.GetString(6), reader.GetString(7));
        }

        if (revokedReason is not null)
        {
            var count = await RevokeFamilyAsync(connection, tx, familyId, "reuse_detected", cancellationToken).ConfigureAwait(false);
            if (revokedReason != "rotated")
            {
                // Signed out, or already caught: the family was revoked as a whole then, so this is no new signal.
                await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
                LogRefreshRefused(userId, "revoked token");
                return new RefreshResult(RefreshStatus.Invalid);
            }
            await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(null, IdentityAudit.RefreshReuseDetected, "user", userId.ToString(),
                new Dictionary<string, string?>
                {
                    ["family_id"] = familyId.ToString(),
                    ["token_id"] = tokenId.ToString(),
                    ["revoked"] = count.ToString(System.Globalization.CultureInfo.InvariantCulture),
                    ["ip"] = client.Address?.ToString(),
                }), cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            LogReuseDetected(userId, familyId, count);
            // Whoever holds the stolen token may also hold a live access token of this session.
            await revocations.RevokeAsync(familyId, cancellationToken).ConfigureAwait(false);
            return new RefreshResult(RefreshStatus.ReuseDetected);
        }
        if (expired || disabled)
        {
            LogRefreshRefused(userId, expired ? "expired" : "user disabled");
            return new RefreshResult(RefreshStatus.Invalid);
        }

        var next = await InsertRefreshTokenAsync(connection, tx, userId, familyId, client, cancellationToken).ConfigureAwait(false);
        await using (var rotate = new NpgsqlCommand("""
            UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = 'rotated', replaced_by = $2 WHERE id = $1
            """, connection, tx))
        {
            rotate.Parameters.Add(new() { Value = tokenId });
            rotate.Parameters.Add(new() { Value = next.Id });
            await rotate.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        return new RefreshResult(RefreshStatus.Succeeded, Pair(user, familyId, next));
    }

    /// <summary>
    /// Revokes the session (token family) <paramref name="refreshToken"/> belongs to. Returns false when the token
    /// is unknown or belongs to someone else; true also when it was already revoked (signing out twice is fine).
    /// </summary>
    public async Task<bool> LogoutAsync(CurrentUser user, string refreshToken, ClientInfo client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(refreshToken);
        ArgumentNullException.ThrowIfNull(client);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        Guid familyId;
        await using (var select = new NpgsqlCommand(
            "SELECT family_id FROM refresh_tokens WHERE token_hash = $1 AND user_id = $2", connection, tx))
        {
            select.Parameters.Add(new() { Value = Secrets.Hash(refreshToken) });
            select.Parameters.Add(new() { Value = user.UserId });
            if (await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not Guid found)
            {
                return false;
            }
            familyId = found;
        }
        var count = await RevokeFamilyAsync(connection, tx, familyId, "logout", cancellationToken).ConfigureAwait(false);
        if (count > 0)
        {
            var details = Details(client);
            details["family_id"] = familyId.ToString();
            await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(user.UserId, IdentityAudit.LoggedOut, "user", user.UserId.ToString(), details),
                cancellationToken).ConfigureAwait(false);
            LogLoggedOut(user.UserId, count);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        // After the commit: the session is over in Postgres first, then its live access tokens end too.
        await revocations.RevokeAsync(familyId, cancellationToken).ConfigureAwait(false);
        return true;
    }

    private async Task<(Guid Id, string Token, DateTimeOffset ExpiresAt)> InsertRefreshTokenAsync(
        NpgsqlConnection connection, NpgsqlTransaction tx, Guid userId, Guid familyId, ClientInfo client, CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var token = Secrets.NewRefreshToken();
        await using var insert = new NpgsqlCommand("""
            INSERT INTO refresh_tokens (id, user_id, family_id, token_hash, expires_at, created_ip, created_user_agent)
            VALUES ($1, $2, $3, $4, now() + make_interval(days => $5), $6, $7)
            RETURNING expires_at
            """, connection, tx);
        insert.Parameters.Add(new() { Value = id });
        insert.Parameters.Add(new() { Value = userId });
        insert.Parameters.Add(new() { Value = familyId });
        insert.Parameters.Add(new() { Value = Secrets.Hash(token) });
        insert.Parameters.Add(new() { Value = options.Value.RefreshTokenDays });
        insert.Parameters.Add(new() { Value = (object?)client.Address?.ToString() ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = (object?)client.UserAgent ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        var expiresAt = (DateTime)(await insert.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
        return (id, token, new DateTimeOffset(expiresAt, TimeSpan.Zero));
    }

    private static async Task<int> RevokeFamilyAsync(NpgsqlConnection connection, NpgsqlTransaction tx, Guid familyId, string reason, CancellationToken cancellationToken)
    {
        await using var revoke = new NpgsqlCommand("""
            UPDATE refresh_tokens SET revoked_at = now(), revoked_reason = $2
            WHERE family_id = $1 AND revoked_at IS NULL
            """, connection, tx);
        revoke.Parameters.Add(new() { Value = familyId });
        revoke.Parameters.Add(new() { Value = reason });
        return await revoke.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private TokenPair Pair(CurrentUser user, Guid familyId, (Guid Id, string Token, DateTimeOffset ExpiresAt) refresh)
    {
        var access = accessTokens.Issue(user, familyId);
        return new TokenPair(access.Token, access.ExpiresAt, refresh.Token, refresh.ExpiresAt);
    }

    private static Dictionary<string, string?> Details(ClientInfo client) => new()
    {
        ["ip"] = client.Address?.ToString(),
        ["user_agent"] = client.UserAgent,
    };

    private static Dictionary<string, string?> Details(ClientInfo client, LoginThrottleLease lease)
    {
        var details = Details(client);
        if (lease.Slowdown > TimeSpan.Zero)
        {
            details["slowed_ms"] = ((long)lease.Slowdown.TotalMilliseconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        }

        return details;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} signed in")]
    private partial void LogLoggedIn(Guid userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Sign-in failed for user {UserId}: {Reason}")]
    private partial void LogLoginFailed(Guid? userId, string reason);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Sign-in throttled for client {ClientAddress}")]
    private partial void LogThrottled(string? clientAddress);

    [LoggerMessage(Level = LogLevel.Information, Message = "Refresh refused for user {UserId}: {Reason}")]
    private partial void LogRefreshRefused(Guid? userId, string reason);

    [LoggerMessage(Level = LogLevel.Warning,
        Message = "Refresh token reuse for user {UserId}: revoked {Count} token(s) of family {FamilyId}")]
    private partial void LogReuseDetected(Guid userId, Guid familyId, int count);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} signed out ({Count} token(s) revoked)")]
    private partial void LogLoggedOut(Guid userId, int count);
}
