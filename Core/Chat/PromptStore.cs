using System.Security.Cryptography;
using System.Text;
using System.Text.RegularExpressions;
using AspireAi.Core.Caching;
using Microsoft.Extensions.Caching.Hybrid;
using Npgsql;

namespace AspireAi.Core.Chat;

public sealed record PromptVersion(
    Guid Id, string Name, int Version, string Template, string? Model, float? Temperature, int? MaxTokens,
    Guid? CreatedBy, DateTimeOffset CreatedAt, string Sha256, bool IsActive)
{
    /// <summary>Replaces {{name}} placeholders; unknown placeholders stay visible rather than vanish silently.</summary>
    public string Render(IReadOnlyDictionary<string, string> variables) =>
        PromptTemplate.Placeholder().Replace(Template, m => variables.TryGetValue(m.Groups[1].Value, out var v) ? v : m.Value);
}

internal static partial class PromptTemplate
{
    [GeneratedRegex(@"\{\{\s*([a-zA-Z0-9_]+)\s*\}\}")]
    public static partial Regex Placeholder();
}

/// <summary>
/// Versioned prompt templates. Versions are immutable (a trigger enforces it); activation moves one flag. The active
/// version is read on every chat turn, so it is cached in process (every instance drops it when a version is created
/// or activated); not in Redis, which may be shared by hosts on other databases, where the row's id would differ.
/// </summary>
public sealed class PromptStore(NpgsqlDataSource dataSource, SharedCache? cache = null)
{
    private static readonly HybridCacheEntryOptions ActiveCacheOptions = new()
    {
        Expiration = TimeSpan.FromMinutes(5),
        LocalCacheExpiration = TimeSpan.FromMinutes(5),
        Flags = HybridCacheEntryFlags.DisableDistributedCache,
    };

    internal const string Columns = "id, name, version, template, model, temperature, max_tokens, created_by, created_at, sha256, is_active";

    public static string HashOf(string template) => Convert.ToHexStringLower(SHA256.HashData(Encoding.UTF8.GetBytes(template)));

    public async Task<PromptVersion?> GetActiveAsync(string name, CancellationToken cancellationToken) =>
        cache is null
            ? await ReadActiveAsync(name, cancellationToken).ConfigureAwait(false)
            : await cache.GetOrCreateAsync(CacheKey(name), token => new ValueTask<PromptVersion?>(ReadActiveAsync(name, token)), ActiveCacheOptions,
                cancellationToken).ConfigureAwait(false);

    private static string CacheKey(string name) => "prompt:active:" + name;

    /// <summary>Drops this instance's and every other instance's cached active version of <paramref name="name"/>.</summary>
    internal async Task InvalidateAsync(string name)
    {
        if (cache is not null)
        {
            await cache.InvalidateAsync(CacheKey(name)).ConfigureAwait(false);
        }
    }

    private async Task<PromptVersion?> ReadActiveAsync(string name, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM prompts WHERE name = $1 AND is_active");
        command.Parameters.Add(new() { Value = name });
        return (await ReadAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    /// <summary>One version; null when it does not exist.</summary>
    public async Task<PromptVersion?> GetAsync(string name, int version, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM prompts WHERE name = $1 AND version = $2");
        command.Parameters.Add(new() { Value = name });
        command.Parameters.Add(new() { Value = version });
        return (await ReadAsync(command, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
    }

    public async Task<IReadOnlyList<PromptVersion>> ListAsync(string? name, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM prompts WHERE ($1::text IS NULL OR name = $1) ORDER BY name, version DESC LIMIT 500
            """);
        command.Parameters.Add(new() { Value = (object?)name ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        return await ReadAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Adds the next version of <paramref name="name"/>; the per-name row lock makes concurrent creates
    /// get consecutive versions instead of a unique-key failure.</summary>
    public async Task<PromptVersion> CreateAsync(string name, string template, string? model, float? temperature, int? maxTokens,
        Guid createdBy, bool activate, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockNameAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);
        if (activate)
        {
            await DeactivateAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);
        }
        await using var insert = new NpgsqlCommand($"""
            INSERT INTO prompts (id, name, version, template, model, temperature, max_tokens, created_by, sha256, is_active)
            SELECT $1, $2, COALESCE(MAX(version), 0) + 1, $3, $4, $5, $6, $7, $8, $9 FROM prompts WHERE name = $2
            RETURNING {Columns}
            """, connection, tx);
        insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
        insert.Parameters.Add(new() { Value = name });
        insert.Parameters.Add(new() { Value = template });
        insert.Parameters.Add(new() { Value = (object?)model ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Text });
        insert.Parameters.Add(new() { Value = temperature is { } t ? t : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Real });
        insert.Parameters.Add(new() { Value = maxTokens is { } m ? m : DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Integer });
        insert.Parameters.Add(new() { Value = createdBy });
        insert.Parameters.Add(new() { Value = HashOf(template) });
        insert.Parameters.Add(new() { Value = activate });
        var created = (await ReadAsync(insert, cancellationToken).ConfigureAwait(false)).Single();
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        if (activate)
        {
            await InvalidateAsync(name).ConfigureAwait(false);
        }
        return created;
    }

    /// <summary>Makes <paramref name="version"/> the active one; null when it does not exist.</summary>
    public async Task<PromptVersion?> ActivateAsync(string name, int version, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        await LockNameAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);
        await DeactivateAsync(connection, tx, name, cancellationToken).ConfigureAwait(false);
        await using var activate = new NpgsqlCommand($"""
            UPDATE prompts SET is_active = true WHERE name = $1 AND version = $2 RETURNING {Columns}
            """, connection, tx);
        activate.Parameters.Add(new() { Value = name });
        activate.Parameters.Add(new() { Value = version });
        var activated = (await ReadAsync(activate, cancellationToken).ConfigureAwait(false)).SingleOrDefault();
        if (activated is null)
        {
            await tx.RollbackAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        await InvalidateAsync(name).ConfigureAwait(false);
        return activated;
    }

    /// <summary>Activates the newest version older than the active one; null when there is none to go back to.</summary>
    public async Task<PromptVersion?> RollbackAsync(string name, CancellationToken cancellationToken)
    {
        var active = await ReadActiveAsync(name, cancellationToken).ConfigureAwait(false);
        if (active is null)
        {
            return null;
        }
        var previous = (await ListAsync(name, cancellationToken).ConfigureAwait(false))
            .Where(p => p.Version < active.Version)
            .MaxBy(p => p.Version);
        return previous is null ? null : await ActivateAsync(name, previous.Version, cancellationToken).ConfigureAwait(false);
    }

    // Serialises writers of one prompt name, so two activations cannot both clear the flag and then collide on
    // the one-active index.
    internal static async Task LockNameAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT pg_advisory_xact_lock(hashtextextended($1, 7))", connection, tx);
        command.Parameters.Add(new() { Value = "prompt:" + name });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static async Task DeactivateAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string name, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("UPDATE prompts SET is_active = false WHERE name = $1 AND is_active", connection, tx);
        command.Parameters.Add(new() { Value = name });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    internal static async Task<List<PromptVersion>> ReadAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        var items = new List<PromptVersion>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            items.Add(Read(reader, 0));
        }
        return items;
    }

    /// <summary>Reads a prompt selected with <see cref="Columns"/> starting at column <paramref name="first"/>.</summary>
    internal static PromptVersion Read(NpgsqlDataReader reader, int first) => new(
        reader.GetGuid(first), reader.GetString(first + 1), reader.GetInt32(first + 2), reader.GetString(first + 3),
        reader.IsDBNull(first + 4) ? null : reader.GetString(first + 4),
        reader.IsDBNull(first + 5) ? null : reader.GetFloat(first + 5),
        reader.IsDBNull(first + 6) ? null : reader.GetInt32(first + 6),
        reader.IsDBNull(first + 7) ? null : reader.GetGuid(first + 7),
        reader.GetFieldValue<DateTimeOffset>(first + 8), reader.GetString(first + 9), reader.GetBoolean(first + 10));
}
