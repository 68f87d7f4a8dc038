using System.Text.Json;
using Microsoft.Extensions.Options;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Idempotency;

/// <summary>A response kept for replay: status, the headers that describe it, and the body's exact bytes.</summary>
public sealed record StoredResponse(int Status, IReadOnlyDictionary<string, string> Headers, byte[] Body);

/// <summary>What a request with an Idempotency-Key may do.</summary>
public abstract record IdempotencyClaim
{
    /// <summary>The key is this request's: run it, then <see cref="IdempotencyStore.CompleteAsync"/> or release it.</summary>
    public sealed record Begun : IdempotencyClaim;

    /// <summary>The same request already ran: replay its response.</summary>
    public sealed record Completed(StoredResponse Response) : IdempotencyClaim;

    /// <summary>The same request is still running elsewhere.</summary>
    public sealed record InFlight(TimeSpan RetryAfter) : IdempotencyClaim;

    /// <summary>The key was used for a different request.</summary>
    public sealed record Mismatch : IdempotencyClaim;
}

/// <summary>The <c>idempotency_keys</c> table: claims a key for a request, stores its response, releases it.</summary>
public sealed class IdempotencyStore(NpgsqlDataSource dataSource, IOptions<IdempotencyOptions> options)
{
    /// <summary>Claims (user, key) for a request with <paramref name="requestHash"/>, or says why it cannot run.</summary>
    public async Task<IdempotencyClaim> ClaimAsync(Guid userId, string key, byte[] requestHash, CancellationToken cancellationToken)
    {
        var settings = options.Value;
        // Two tries: a row released between the failed insert and the read is claimable on the second.
        for (var attempt = 0; ; attempt++)
        {
            // A new key, a run whose lease ran out (same request: its process is gone), or an expired row not yet
            // swept: this request takes it.
            await using (var claim = dataSource.CreateCommand("""
                INSERT INTO idempotency_keys (user_id, key, request_hash, locked_until, expires_at)
                VALUES ($1, $2, $3, now() + $4, now() + $5)
                ON CONFLICT (user_id, key) DO UPDATE SET
                    request_hash = EXCLUDED.request_hash, status = 'running', response_status = NULL,
                    response_headers = NULL, response_body = NULL, created_at = now(),
                    locked_until = EXCLUDED.locked_until, expires_at = EXCLUDED.expires_at
                WHERE idempotency_keys.expires_at < now()
                   OR (idempotency_keys.status = 'running' AND idempotency_keys.locked_until < now()
                       AND idempotency_keys.request_hash = EXCLUDED.request_hash)
                RETURNING 1
                """))
            {
                claim.Parameters.Add(new() { Value = userId });
                claim.Parameters.Add(new() { Value = key });
                claim.Parameters.Add(new() { Value = requestHash });
                claim.Parameters.Add(new() { Value = settings.InFlightLease, NpgsqlDbType = NpgsqlDbType.Interval });
                claim.Parameters.Add(new() { Value = settings.Retention, NpgsqlDbType = NpgsqlDbType.Interval });
                if (await claim.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false) is not null)
                {
                    return new IdempotencyClaim.Begun();
                }
            }

            await using var read = dataSource.CreateCommand("""
                SELECT request_hash, status, GREATEST(locked_until - now(), interval '0'), response_status, response_headers, response_body
                FROM idempotency_keys WHERE user_id = $1 AND key = $2
                """);
            read.Parameters.Add(new() { Value = userId });
            read.Parameters.Add(new() { Value = key });
            await using var reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                if (attempt == 0)
                {
                    continue;
                }
                // Claimed and released twice in a row by someone else: ask the client to come back.
                return new IdempotencyClaim.InFlight(TimeSpan.FromSeconds(1));
            }
            if (!reader.GetFieldValue<byte[]>(0).AsSpan().SequenceEqual(requestHash))
            {
                return new IdempotencyClaim.Mismatch();
            }
            if (reader.GetString(1) == "running")
            {
                return new IdempotencyClaim.InFlight(reader.GetFieldValue<TimeSpan>(2));
            }
            var headers = JsonSerializer.Deserialize<Dictionary<string, string>>(reader.GetString(4)) ?? [];
            return new IdempotencyClaim.Completed(new StoredResponse(reader.GetInt32(3), headers, reader.GetFieldValue<byte[]>(5)));
        }
    }

    /// <summary>Stores the response of a claimed request; the retention starts now.</summary>
    public async Task CompleteAsync(Guid userId, string key, StoredResponse response, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(response);
        await using var command = dataSource.CreateCommand("""
            UPDATE idempotency_keys
            SET status = 'completed', response_status = $3, response_headers = $4, response_body = $5, expires_at = now() + $6
            WHERE user_id = $1 AND key = $2 AND status = 'running'
            """);
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = key });
        command.Parameters.Add(new() { Value = response.Status });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(response.Headers), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new() { Value = response.Body });
        command.Parameters.Add(new() { Value = options.Value.Retention, NpgsqlDbType = NpgsqlDbType.Interval });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Forgets a claim whose request failed or was not worth keeping: a retry runs it again.</summary>
    public async Task ReleaseAsync(Guid userId, string key, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand("DELETE FROM idempotency_keys WHERE user_id = $1 AND key = $2 AND status = 'running'");
        command.Parameters.Add(new() { Value = userId });
        command.Parameters.Add(new() { Value = key });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }
}
