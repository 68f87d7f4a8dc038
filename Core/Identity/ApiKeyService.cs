using System.Collections.Concurrent;
using AspireAi.Core.Caching;
using Microsoft.Extensions.Caching.Hybrid;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Identity;

/// <summary>An API key as its owner may see it: never the secret or its hash.</summary>
public sealed record ApiKeyInfo(Guid Id, string Name, string Prefix, IReadOnlyList<string> Scopes, DateTimeOffset CreatedAt,
    DateTimeOffset? LastUsedAt, DateTimeOffset? ExpiresAt);

/// <summary>A new API key; <see cref="Key"/> is shown to its owner this once and stored only as a hash.</summary>
public sealed record CreatedApiKey(ApiKeyInfo Info, string Key);

/// <summary>The identity an API key stands for.</summary>
public sealed record ApiKeyIdentity(CurrentUser User, Guid KeyId, IReadOnlyList<string> Scopes);

/// <summary>What the shared cache keeps of a live key: enough to authenticate it without Postgres.</summary>
public sealed record CachedApiKey(Guid KeyId, Guid UserId, Guid OrgId, string Role, string Email, string[] Scopes, DateTimeOffset? ExpiresAt);

/// <summary>
/// Personal API keys, <c>aai_&lt;prefix: 8 base62&gt;_&lt;secret: 32 base62&gt;</c> (about 190 random bits in the
/// secret). Only SHA-256 of the whole key is stored; the prefix is kept in clear so the owner can tell keys apart.
/// Lookups of live keys are kept in the shared cache for <see cref="AuthOptions.ApiKeyCacheDuration"/>.
/// </summary>
public sealed partial class ApiKeyService(
    NpgsqlDataSource dataSource, IOptions<AuthOptions> options, ILogger<ApiKeyService> logger, SharedCache? cache = null, TimeProvider? time = null)
{
    /// <summary>What every key starts with; the Bearer handler uses it to tell keys from access tokens.</summary>
    public const string KeyPrefix = "aai_";

    /// <summary>Live (not revoked) keys one user may hold; also the most the list returns.</summary>
    public const int MaxKeysPerUser = 100;

    private const int PrefixLength = 8;
    private const int SecretLength = 32;
    private const int KeyLength = 4 + PrefixLength + 1 + SecretLength;
    private const string Columns = "id, name, prefix, scopes, created_at, last_used_at, expires_at";

    /// <summary>Whether a bearer credential is meant as an API key (it may still be malformed or unknown).</summary>
    public static bool IsApiKey(string credential) => credential.StartsWith(KeyPrefix, StringComparison.Ordinal);

    /// <summary>
    /// Creates a key for <paramref name="user"/> with <paramref name="scopes"/> (known ones, checked by the caller);
    /// null when the user already holds <see cref="MaxKeysPerUser"/> live keys.
    /// </summary>
    public async Task<CreatedApiKey?> CreateAsync(CurrentUser user, string name, int? expiresInDays, IReadOnlyCollection<string> scopes,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        ArgumentNullException.ThrowIfNull(scopes);
        var prefix = Secrets.RandomBase62(PrefixLength);
        var key = $"{KeyPrefix}{prefix}_{Secrets.RandomBase62(SecretLength)}";

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        // Serialises one user's key creations so that concurrent requests cannot pass the cap together.
        await using (var lockUser = new NpgsqlCommand("SELECT 1 FROM users WHERE id = $1 FOR UPDATE", connection, tx))
        {
            lockUser.Parameters.Add(new() { Value = user.UserId });
            await lockUser.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        ApiKeyInfo? info;
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO api_keys (id, user_id, name, prefix, key_hash, expires_at, scopes)
            SELECT $1, $2, $3, $4, $5, now() + make_interval(days => $6), $8
            WHERE (SELECT count(*) FROM api_keys WHERE user_id = $2 AND revoked_at IS NULL) < $7
            RETURNING {Columns}
            """, connection, tx))
        {
            insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new() { Value = user.UserId });
            insert.Parameters.Add(new() { Value = name.Trim() });
            insert.Parameters.Add(new() { Value = prefix });
            insert.Parameters.Add(new() { Value = Secrets.Hash(key) });
            // make_interval(days => NULL) is NULL, so a key without a lifetime gets a NULL expires_at.
            insert.Parameters.Add(new() { Value = (object?)expiresInDays ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Integer });
            insert.Parameters.Add(new() { Value = (long)MaxKeysPerUser });
            // Stored in the canonical order, each once.
            insert.Parameters.Add(new() { Value = ApiKeyScopes.All.Where(scopes.Contains).ToArray() });
            await using var reader = await insert.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            info = await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
        }
        if (info is null)
        {
            return null;
        }
        await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(user.UserId, IdentityAudit.ApiKeyCreated, "api_key", info.Id.ToString()),
            cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        LogCreated(user.UserId, info.Id);
        return new CreatedApiKey(info, key);
    }

    /// <summary>The user's live keys (expired ones included, revoked ones not), newest first, at most <see cref="MaxKeysPerUser"/>.</summary>
    public async Task<IReadOnlyList<ApiKeyInfo>> ListAsync(Guid userId, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM api_keys
            WHERE user_id = $1 AND revoked_at IS NULL
            ORDER BY created_at DESC, id DESC
            LIMIT $2
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = MaxKeysPerUser });
        var keys = new List<ApiKeyInfo>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            keys.Add(Read(reader));
        }
        return keys;
    }

    /// <summary>Revokes one of the user's keys; false when there is no such live key owned by that user.</summary>
    public async Task<bool> RevokeAsync(Guid userId, Guid keyId, CancellationToken cancellationToken = default)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        byte[] keyHash;
        await using (var revoke = new NpgsqlCommand(
            "UPDATE api_keys SET revoked_at = now() WHERE id = $1 AND user_id = $2 AND revoked_at IS NULL RETURNING key_hash", connection, tx))
        {
            revoke.Parameters.Add(new() { Value = keyId });
            revoke.Parameters.Add(new() { Value = userId });
            if (await revoke.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not byte[] hash)
            {
                return false;
            }
            keyHash = hash;
        }
        await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(userId, IdentityAudit.ApiKeyRevoked, "api_key", keyId.ToString()),
            cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        LogRevoked(userId, keyId);
        if (cache is not null)
        {
            // After the commit, so that a lookup racing the revocation cannot cache the key again from the old row.
            // The entry lives only in Redis (see LookupOptions): gone from there, it is gone for every instance.
            await cache.InvalidateAsync(CacheKey(keyHash), CancellationToken.None).ConfigureAwait(false);
        }
        return true;
    }

    /// <summary>
    /// The identity behind a presented key, or null when it is malformed, unknown, revoked, expired, or its user is
    /// disabled. Records use in <c>last_used_at</c>, at most once a minute per key so busy keys do not write per request.
    /// </summary>
    public async Task<ApiKeyIdentity?> AuthenticateAsync(string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        if (key.Length != KeyLength || !IsApiKey(key) || key[4 + PrefixLength] != '_'
            || !Secrets.IsBase62(key.AsSpan(4, PrefixLength)) || !Secrets.IsBase62(key.AsSpan(4 + PrefixLength + 1)))
        {
            LogRefused("malformed");
            return null;
        }

        var hash = Secrets.Hash(key);
        var duration = options.Value.ApiKeyCacheDuration;
        if (cache is null || duration <= TimeSpan.Zero)
        {
            return ToIdentity(await LookUpAsync(hash, cancellationToken).ConfigureAwait(false));
        }

        var cacheKey = CacheKey(hash);
        var cached = await cache.Cache.GetOrCreateAsync<CachedApiKey?>(cacheKey, null!, ReadOnly, cancellationToken: cancellationToken)
            .ConfigureAwait(false);
        if (cached is null)
        {
            // Only live keys are cached: unknown keys would let anyone fill Redis, and a refusal is cheap to repeat.
            cached = await LookUpAsync(hash, cancellationToken).ConfigureAwait(false);
            if (cached is not null)
            {
                await cache.Cache.SetAsync(cacheKey, cached, LookupOptions(duration), cancellationToken: cancellationToken).ConfigureAwait(false);
            }
            return ToIdentity(cached);
        }
        if (cached.ExpiresAt <= (time ?? TimeProvider.System).GetUtcNow())
        {
            LogRefused("expired");
            return null;
        }
        await TouchAsync(cached.KeyId, cancellationToken).ConfigureAwait(false);
        return ToIdentity(cached);
    }

    // In Redis only, never in process memory: removing the Redis entry on revoke then reaches every instance at once,
    // with no pub/sub message that could arrive after the next request. A Redis read is still far cheaper than the
    // join, and with Redis down (FailSoftDistributedCache) every lookup is a miss and goes to Postgres.
    private static HybridCacheEntryOptions LookupOptions(TimeSpan duration) => new()
    {
        Expiration = duration,
        LocalCacheExpiration = duration,
        Flags = HybridCacheEntryFlags.DisableLocalCache,
    };

    private static readonly HybridCacheEntryOptions ReadOnly = new()
    {
        Flags = HybridCacheEntryFlags.DisableLocalCache | HybridCacheEntryFlags.DisableDistributedCacheWrite | HybridCacheEntryFlags.DisableUnderlyingData,
    };

    // The hash of the key, never the key: Redis keys are listed in plain sight.
    private static string CacheKey(byte[] keyHash) => "apikey:" + Convert.ToHexStringLower(keyHash);

    private static ApiKeyIdentity? ToIdentity(CachedApiKey? key) =>
        key is null ? null : new ApiKeyIdentity(new CurrentUser(key.UserId, key.OrgId, key.Role, key.Email), key.KeyId, key.Scopes);

    // When this instance last wrote (or tried to write) last_used_at of a cached key.
    private readonly ConcurrentDictionary<Guid, DateTimeOffset> _touched = new();

    private async Task<CachedApiKey?> LookUpAsync(byte[] hash, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        CachedApiKey found;
        bool stale;
        await using (var select = new NpgsqlCommand("""
            SELECT k.id, k.revoked_at IS NOT NULL, k.expires_at IS NOT NULL AND k.expires_at <= now(),
                   k.last_used_at IS NULL OR k.last_used_at < now() - interval '1 minute',
                   u.id, u.org_id, u.role, u.email, u.disabled_at IS NOT NULL, k.scopes, k.expires_at
            FROM api_keys k JOIN users u ON u.id = k.user_id
            WHERE k.key_hash = $1
            """, connection))
        {
            select.Parameters.Add(new() { Value = hash });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                LogRefused("unknown");
                return null;
            }
            var refusal = reader.GetBoolean(1) ? "revoked" : reader.GetBoolean(2) ? "expired" : reader.GetBoolean(8) ? "user disabled" : null;
            if (refusal is not null)
            {
                LogRefused(refusal);
                return null;
            }
            stale = reader.GetBoolean(3);
            found = new CachedApiKey(reader.GetGuid(0), reader.GetGuid(4), reader.GetGuid(5), reader.GetString(6), reader.GetString(7),
                reader.GetFieldValue<string[]>(9), reader.IsDBNull(10) ? null : reader.GetFieldValue<DateTimeOffset>(10));
        }
        if (stale)
        {
            await TouchAsync(found.KeyId, cancellationToken).ConfigureAwait(false);
        }
        return found;
    }

    // A cache hit still records use, at most once a minute per key and instance (the UPDATE itself skips recent rows).
    private async Task TouchAsync(Guid keyId, CancellationToken cancellationToken)
    {
        var now = (time ?? TimeProvider.System).GetUtcNow();
        if (_touched.TryGetValue(keyId, out var last) && now - last < TimeSpan.FromMinutes(1))
        {
            return;
        }
        _touched[keyId] = now;
        await using var touch = dataSource.CreateCommand("""
            UPDATE api_keys SET last_used_at = now()
            WHERE id = $1 AND (last_used_at IS NULL OR last_used_at < now() - interval '1 minute')
            """);
        touch.Parameters.Add(new() { Value = keyId });
        await touch.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static ApiKeyInfo Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetString(1),
        reader.GetString(2),
        reader.GetFieldValue<string[]>(3),
        reader.GetFieldValue<DateTimeOffset>(4),
        reader.IsDBNull(5) ? null : reader.GetFieldValue<DateTimeOffset>(5),
        reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6));

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} created API key {KeyId}")]
    private partial void LogCreated(Guid userId, Guid keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "User {UserId} revoked API key {KeyId}")]
    private partial void LogRevoked(Guid userId, Guid keyId);

    [LoggerMessage(Level = LogLevel.Information, Message = "API key refused: {Reason}")]
    private partial void LogRefused(string reason);
}
