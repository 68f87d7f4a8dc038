using System.Net;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Core.Identity;

/// <summary>A user as other code may see it: no password hash.</summary>
public sealed record UserAccount(Guid Id, Guid OrgId, string Email, string DisplayName, string Role,
    DateTimeOffset CreatedAt, DateTimeOffset? DisabledAt)
{
    /// <summary>Whether the account may sign in.</summary>
    public bool IsDisabled => DisabledAt is not null;

    /// <summary>The identity this user acts under.</summary>
    public CurrentUser ToCurrentUser() => new(Id, OrgId, Role, Email);
}

/// <summary>Where a request came from, recorded with sessions and audit entries.</summary>
/// <param name="Address">The client address (after any trusted forwarding), or null when unknown.</param>
/// <param name="UserAgent">The User-Agent header, truncated.</param>
public sealed record ClientInfo(IPAddress? Address, string? UserAgent)
{
    private const int MaxUserAgentLength = 512;

    /// <summary>Builds the record, truncating an overlong user agent.</summary>
    public static ClientInfo Create(IPAddress? address, string? userAgent) =>
        new(address, userAgent is { Length: > MaxUserAgentLength } ? userAgent[..MaxUserAgentLength] : userAgent);
}

/// <summary>The outcome of <see cref="UserAccounts.RegisterAsync"/>.</summary>
public enum RegistrationStatus
{
    /// <summary>The account was created.</summary>
    Created,

    /// <summary>An account with this email (compared case-insensitively) already exists.</summary>
    EmailTaken,

    /// <summary>Self-registration is switched off (<see cref="AuthOptions.AllowRegistration"/>).</summary>
    Disabled,
}

/// <summary>Creates, finds and lists users (the <c>users</c> table).</summary>
public sealed partial class UserAccounts(NpgsqlDataSource dataSource, IOptions<AuthOptions> options, ILogger<UserAccounts> logger)
{
    /// <summary>The organisation self-registered users join; the admin seeder creates it too.</summary>
    public const string DefaultOrgName = "default";

    private const string Columns = "id, org_id, email, display_name, role, created_at, disabled_at";

    /// <summary>
    /// Creates a user with role <see cref="AspireAiRoles.User"/> in the default organisation (creating it when
    /// missing), unless registration is disabled or the email is taken.
    /// </summary>
    public async Task<(RegistrationStatus Status, UserAccount? Account)> RegisterAsync(
        string email, string password, string displayName, ClientInfo client, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(email);
        ArgumentNullException.ThrowIfNull(password);
        ArgumentNullException.ThrowIfNull(displayName);
        ArgumentNullException.ThrowIfNull(client);
        if (options.Value.AllowRegistration != true)
        {
            return (RegistrationStatus.Disabled, null);
        }
        // Hash before opening the connection: it is the slow part and needs no transaction.
        var passwordHash = AdminSeeder.HashPassword(password);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
        var orgId = await EnsureOrgAsync(connection, tx, DefaultOrgName, cancellationToken).ConfigureAwait(false);

        UserAccount? account;
        await using (var insert = new NpgsqlCommand($"""
            INSERT INTO users (id, org_id, email, display_name, password_hash, role)
            VALUES ($1, $2, $3, $4, $5, 'user')
            ON CONFLICT (lower(email)) DO NOTHING
            RETURNING {Columns}
            """, connection, tx))
        {
            insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new() { Value = orgId });
            insert.Parameters.Add(new() { Value = email.Trim() });
            insert.Parameters.Add(new() { Value = displayName.Trim() });
            insert.Parameters.Add(new() { Value = passwordHash });
            account = await ReadSingleAsync(insert, cancellationToken).ConfigureAwait(false);
        }
        if (account is null)
        {
            // The caller answers this exactly like a new account; the attempt is recorded against the existing one
            // (in the same transaction shape, so it costs the same time).
            await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(null, IdentityAudit.RegisterExisting, "user",
                await ExistingIdAsync(connection, tx, email, cancellationToken).ConfigureAwait(false),
                new Dictionary<string, string?> { ["ip"] = client.Address?.ToString() }), cancellationToken).ConfigureAwait(false);
            await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
            LogRegisterExisting();
            return (RegistrationStatus.EmailTaken, null);
        }

        await IdentityAudit.WriteAsync(connection, tx, new AuditEntry(account.Id, IdentityAudit.Registered, "user", account.Id.ToString(),
            new Dictionary<string, string?> { ["ip"] = client.Address?.ToString() }), cancellationToken).ConfigureAwait(false);
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);
        LogRegistered(account.Id);
        return (RegistrationStatus.Created, account);
    }

    private static async Task<string?> ExistingIdAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string email, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("SELECT id FROM users WHERE lower(email) = lower($1)", connection, tx);
        command.Parameters.Add(new() { Value = email.Trim() });
        return (await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))?.ToString();
    }

    /// <summary>The user with this id, or null.</summary>
    public async Task<UserAccount?> FindByIdAsync(Guid id, CancellationToken cancellationToken = default)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns} FROM users WHERE id = $1");
        command.Parameters.Add(new() { Value = id });
        return await ReadSingleAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One page of an organisation's users ordered by id (ids are time-ordered uuids, so this is creation order);
    /// pass the last id of a page as <paramref name="after"/> for the next one.
    /// </summary>
    public async Task<IReadOnlyList<UserAccount>> ListAsync(Guid orgId, Guid? after, int limit, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(limit);
        await using var command = dataSource.CreateCommand($"""
            SELECT {Columns} FROM users
            WHERE org_id = $1 AND ($2::uuid IS NULL OR id > $2)
            ORDER BY id
            LIMIT $3
            """);
        command.Parameters.Add(new() { Value = orgId });
        command.Parameters.Add(new() { Value = (object?)after ?? DBNull.Value, NpgsqlDbType = NpgsqlTypes.NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = limit });
        var users = new List<UserAccount>();
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            users.Add(Read(reader));
        }
        return users;
    }

    /// <summary>The user and password hash for a sign-in; the email is compared case-insensitively.</summary>
    internal async Task<(UserAccount Account, string PasswordHash)?> FindCredentialsAsync(string email, CancellationToken cancellationToken)
    {
        await using var command = dataSource.CreateCommand($"SELECT {Columns}, password_hash FROM users WHERE lower(email) = lower($1)");
        command.Parameters.Add(new() { Value = email.Trim() });
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            return null;
        }
        return (Read(reader), reader.GetString(7));
    }

    /// <summary>The id of the named organisation, created when missing.</summary>
    internal static async Task<Guid> EnsureOrgAsync(NpgsqlConnection connection, NpgsqlTransaction tx, string name, CancellationToken cancellationToken)
    {
        // Two statements, not one: a CTE's SELECT would not see an org another transaction inserted meanwhile
        // (ON CONFLICT DO NOTHING skips, the snapshot predates it); a second statement takes a new snapshot.
        await using (var insert = new NpgsqlCommand("INSERT INTO orgs (id, name) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING", connection, tx))
        {
            insert.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            insert.Parameters.Add(new() { Value = name });
            await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await using var select = new NpgsqlCommand("SELECT id FROM orgs WHERE name = $1", connection, tx);
        select.Parameters.Add(new() { Value = name });
        return (Guid)(await select.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    private static async Task<UserAccount?> ReadSingleAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        await using var reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? Read(reader) : null;
    }

    private static UserAccount Read(NpgsqlDataReader reader) => new(
        reader.GetGuid(0),
        reader.GetGuid(1),
        reader.GetString(2),
        reader.GetString(3),
        reader.GetString(4),
        reader.GetFieldValue<DateTimeOffset>(5),
        reader.IsDBNull(6) ? null : reader.GetFieldValue<DateTimeOffset>(6));

    [LoggerMessage(Level = LogLevel.Information, Message = "Registered user {UserId}")]
    private partial void LogRegistered(Guid userId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Registration attempted for an email that already has an account")]
    private partial void LogRegisterExisting();
}
