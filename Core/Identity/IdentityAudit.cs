using System.Text.Json;
using Npgsql;
using NpgsqlTypes;

namespace AspireAi.Core.Identity;

/// <summary>Writes security events to <c>audit_log</c>: ids, action names and client metadata, never secrets.</summary>
internal static class IdentityAudit
{
    public const string Registered = "auth.registered";
    public const string RegisterExisting = "auth.register_existing";
    public const string LoginSucceeded = "auth.login_succeeded";
    public const string LoginFailed = "auth.login_failed";
    public const string LoginThrottled = "auth.login_throttled";
    public const string RefreshReuseDetected = "auth.refresh_reuse_detected";
    public const string LoggedOut = "auth.logged_out";
    public const string ApiKeyCreated = "api_key.created";
    public const string ApiKeyRevoked = "api_key.revoked";

    public static async Task WriteAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var command = new NpgsqlCommand("""
            INSERT INTO audit_log (actor_user_id, action, target_type, target_id, details, arguments)
            VALUES ($1, $2, $3, $4, $5, $6)
            """, connection, transaction);
        command.Parameters.Add(new() { Value = (object?)entry.ActorUserId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Uuid });
        command.Parameters.Add(new() { Value = entry.Action });
        command.Parameters.Add(new() { Value = (object?)entry.TargetType ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = (object?)entry.TargetId ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        command.Parameters.Add(new() { Value = JsonSerializer.Serialize(entry.Details ?? EmptyDetails), NpgsqlDbType = NpgsqlDbType.Jsonb });
        command.Parameters.Add(new() { Value = (object?)entry.Arguments ?? DBNull.Value, NpgsqlDbType = NpgsqlDbType.Text });
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    public static async Task WriteAsync(NpgsqlDataSource dataSource, AuditEntry entry, CancellationToken cancellationToken)
    {
        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await WriteAsync(connection, null, entry, cancellationToken).ConfigureAwait(false);
    }

    private static readonly Dictionary<string, string?> EmptyDetails = [];
}

/// <param name="Arguments">What a tool call was asked to do, already redacted and truncated (<c>audit_log.arguments</c>).</param>
internal sealed record AuditEntry(Guid? ActorUserId, string Action, string? TargetType = null, string? TargetId = null,
    IReadOnlyDictionary<string, string?>? Details = null, string? Arguments = null);
