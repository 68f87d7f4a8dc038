using System.Collections.Concurrent;
using System.Security.Cryptography;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Encryption;

/// <summary>An unwrapped data key: encrypts text (<see cref="DataKeyStore.Data"/>) or keys the blind index
/// (<see cref="DataKeyStore.Index"/>) of one organisation.</summary>
public sealed record DataKey(Guid Id, Guid OrgId, string Purpose, byte[] Key);

/// <summary>
/// The per-organisation data keys (table <c>data_keys</c>, migration 0017), wrapped by the master key. An unwrapped key
/// is cached for the life of the process (a key never changes, only its wrapping); which key is an organisation's
/// active one is cached for <see cref="EncryptionOptions.ActiveKeyCacheSeconds"/>, because a rotation replaces it.
/// Keys are created on first use in their own transaction, so a caller's transaction never holds a key another
/// connection cannot see yet.
/// </summary>
public sealed class DataKeyStore(NpgsqlDataSource dataSource, MasterKeyRing masters, IOptions<EncryptionOptions> options, TimeProvider time)
{
    /// <summary>Encrypts text; rotated by the re-encryption job.</summary>
    public const string Data = "data";

    /// <summary>Keys the HMAC of the blind index; kept for the organisation's lifetime (rotating it would mean
    /// re-indexing every row while searches run against both), re-wrapped like every key.</summary>
    public const string Index = "index";

    private readonly ConcurrentDictionary<Guid, DataKey> _byId = new();
    private readonly ConcurrentDictionary<(Guid OrgId, string Purpose), (DataKey Key, DateTimeOffset Until)> _active = new();

    /// <summary>The organisation's active key of <paramref name="purpose"/>, created if it has none.</summary>
    public async ValueTask<DataKey> ActiveAsync(Guid orgId, string purpose, CancellationToken cancellationToken)
    {
        var now = time.GetUtcNow();
        if (_active.TryGetValue((orgId, purpose), out var cached) && cached.Until > now)
        {
            return cached.Key;
        }
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        var key = await FindActiveAsync(connection, null, orgId, purpose, cancellationToken).ConfigureAwait(false)
            ?? await CreateAsync(connection, null, orgId, purpose, cancellationToken).ConfigureAwait(false);
        _active[(orgId, purpose)] = (key, now.AddSeconds(options.Value.ActiveKeyCacheSeconds));
        return key;
    }

    /// <summary>A key by id (for reading a row that names it); throws when there is no such key.</summary>
    public async ValueTask<DataKey> GetAsync(Guid keyId, CancellationToken cancellationToken)
    {
        if (_byId.TryGetValue(keyId, out var key))
        {
            return key;
        }
        await using var command = dataSource.CreateCommand("SELECT id, org_id, purpose, wrapped_key, master_key_id FROM data_keys WHERE id = $1");
        command.Parameters.Add(new() { Value = keyId });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            throw new EncryptedDataException($"A row names data key {keyId}, which does not exist.");
        }
        return Unwrap(reader);
    }

    /// <summary>Retires the organisation's active key of <paramref name="purpose"/> and creates its successor, in the
    /// caller's transaction (the rotation job's); returns the new key's id.</summary>
    public async Task<Guid> ReplaceAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, string purpose, CancellationToken cancellationToken)
    {
        await using (var retire = new NpgsqlCommand(
            "UPDATE data_keys SET retired_at = now() WHERE org_id = $1 AND purpose = $2 AND retired_at IS NULL", connection, transaction))
        {
            retire.Parameters.Add(new() { Value = orgId });
            retire.Parameters.Add(new() { Value = purpose });
            await retire.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        _active.TryRemove((orgId, purpose), out _);
        return (await CreateAsync(connection, transaction, orgId, purpose, cancellationToken).ConfigureAwait(false)).Id;
    }

    /// <summary>The active key's id in the caller's transaction, creating one if there is none.</summary>
    public async Task<Guid> EnsureActiveAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, Guid orgId, string purpose, CancellationToken cancellationToken) =>
        (await FindActiveAsync(connection, transaction, orgId, purpose, cancellationToken).ConfigureAwait(false)
            ?? await CreateAsync(connection, transaction, orgId, purpose, cancellationToken).ConfigureAwait(false)).Id;

    /// <summary>Re-wraps up to <paramref name="limit"/> keys still wrapped with another master key under the current
    /// one, in the caller's transaction; returns how many it re-wrapped.</summary>
    public async Task<int> RewrapAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int limit, CancellationToken cancellationToken)
    {
        var keys = new List<DataKey>();
        await using (var select = new NpgsqlCommand("""
            SELECT id, org_id, purpose, wrapped_key, master_key_id FROM data_keys
            WHERE master_key_id <> $1 ORDER BY id LIMIT $2 FOR UPDATE SKIP LOCKED
            """, connection, transaction))
        {
            select.Parameters.Add(new() { Value = masters.CurrentId });
            select.Parameters.Add(new() { Value = limit });
            await using var reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                keys.Add(Unwrap(reader));
            }
        }
        foreach (var key in keys)
        {
            await using var update = new NpgsqlCommand("UPDATE data_keys SET wrapped_key = $2, master_key_id = $3 WHERE id = $1", connection, transaction);
            update.Parameters.Add(new() { Value = key.Id });
            update.Parameters.Add(new() { Value = masters.Wrap(key.Key, key.Id, key.OrgId, key.Purpose) });
            update.Parameters.Add(new() { Value = masters.CurrentId });
            await update.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        return keys.Count;
    }

    private async Task<DataKey?> FindActiveAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid orgId, string purpose,
        CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            SELECT id, org_id, purpose, wrapped_key, master_key_id FROM data_keys WHERE org_id = $1 AND purpose = $2 AND retired_at IS NULL
            """, connection, transaction);
        command.Parameters.Add(new() { Value = orgId });
        command.Parameters.Add(new() { Value = purpose });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Unwrap(reader) : null;
    }

    private async Task<DataKey> CreateAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, Guid orgId, string purpose,
        CancellationToken cancellationToken)
    {
        var id = Guid.CreateVersion7();
        var key = RandomNumberGenerator.GetBytes(32);
        // Two processes may create the first key of an organisation at once: the unique index keeps one, and the
        // loser reads the winner's.
        await using (var insert = new NpgsqlCommand("""
            INSERT INTO data_keys (id, org_id, purpose, wrapped_key, master_key_id) VALUES ($1, $2, $3, $4, $5)
            ON CONFLICT (org_id, purpose) WHERE retired_at IS NULL DO NOTHING
            """, connection, transaction))
        {
            insert.Parameters.Add(new() { Value = id });
            insert.Parameters.Add(new() { Value = orgId });
            insert.Parameters.Add(new() { Value = purpose });
            insert.Parameters.Add(new() { Value = masters.Wrap(key, id, orgId, purpose) });
            insert.Parameters.Add(new() { Value = masters.CurrentId });
            if (await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) == 1)
            {
                var created = new DataKey(id, orgId, purpose, key);
                _byId[id] = created;
                return created;
            }
        }
        return await FindActiveAsync(connection, transaction, orgId, purpose, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException($"Organisation {orgId} has no active {purpose} key after creating one.");
    }

    private DataKey Unwrap(NpgsqlDataReader reader)
    {
        var id = reader.GetGuid(0);
        if (_byId.TryGetValue(id, out var cached))
        {
            return cached;
        }
        var orgId = reader.GetGuid(1);
        var purpose = reader.GetString(2);
        var key = new DataKey(id, orgId, purpose, masters.Unwrap(reader.GetString(4), reader.GetFieldValue<byte[]>(3), id, orgId, purpose));
        return _byId.GetOrAdd(id, key);
    }
}
