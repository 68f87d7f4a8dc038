using System.ComponentModel.DataAnnotations;
using Microsoft.AspNetCore.Identity;
using Microsoft.Extensions.Logging;
using Npgsql;
// Not ASP.NET Core Identity's attribute of the same name: this one classifies a logged value for redaction.
using PersonalDataAttribute = AspireAi.ServiceDefaults.PersonalDataAttribute;

namespace AspireAi.Core.Identity;

/// <summary>The first administrator, created on the stack's first start.</summary>
public sealed class AdminSeedOptions
{
    public const string SectionName = "Admin";

    [Required, EmailAddress]
    public string Email { get; set; } = "";

    [Required, MinLength(12)]
    public string Password { get; set; } = "";

    [Required]
    public string DisplayName { get; set; } = "Administrator";

    [Required]
    public string OrgName { get; set; } = UserAccounts.DefaultOrgName;
}

/// <summary>Marker type for the password hasher: the stored hash format does not depend on the user type.</summary>
public sealed class PasswordOwner;

/// <summary>Creates the default org and the admin user when they do not exist yet; never changes an existing user.</summary>
public sealed partial class AdminSeeder(NpgsqlDataSource dataSource, ILogger<AdminSeeder> logger)
{
    private static readonly PasswordHasher<PasswordOwner> Hasher = new();

    public static string HashPassword(string password) => Hasher.HashPassword(new PasswordOwner(), password);

    public static bool VerifyPassword(string hash, string password) =>
        Hasher.VerifyHashedPassword(new PasswordOwner(), hash, password) != PasswordVerificationResult.Failed;

    /// <summary>Returns true when the admin was created by this call.</summary>
    public async Task<bool> SeedAsync(AdminSeedOptions options, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(options);
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);

        await using var connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using var tx = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);

        await using (var org = new NpgsqlCommand("""
            INSERT INTO orgs (id, name) VALUES ($1, $2)
            ON CONFLICT (name) DO NOTHING
            """, connection, tx))
        {
            org.Parameters.Add(new() { Value = Guid.CreateVersion7() });
            org.Parameters.Add(new() { Value = options.OrgName });
            await org.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        var userId = Guid.CreateVersion7();
        int inserted;
        await using (var user = new NpgsqlCommand("""
            INSERT INTO users (id, org_id, email, display_name, password_hash, role)
            SELECT $1, o.id, $2, $3, $4, 'admin' FROM orgs o WHERE o.name = $5
            ON CONFLICT (lower(email)) DO NOTHING
            """, connection, tx))
        {
            user.Parameters.Add(new() { Value = userId });
            user.Parameters.Add(new() { Value = options.Email });
            user.Parameters.Add(new() { Value = options.DisplayName });
            user.Parameters.Add(new() { Value = HashPassword(options.Password) });
            user.Parameters.Add(new() { Value = options.OrgName });
            inserted = await user.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }

        if (inserted == 1)
        {
            await using var audit = new NpgsqlCommand("""
                INSERT INTO audit_log (actor_user_id, action, target_type, target_id)
                VALUES (NULL, 'admin.seeded', 'user', $1)
                """, connection, tx);
            audit.Parameters.Add(new() { Value = userId.ToString() });
            await audit.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
        }
        await tx.CommitAsync(cancellationToken).ConfigureAwait(false);

        if (inserted == 1)
        {
            LogSeeded(options.Email);
        }
        return inserted == 1;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Seeded administrator {Email}")]
    private partial void LogSeeded([PersonalData] string email);
}
