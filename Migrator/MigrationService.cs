using AspireAi.Core.Data;
using AspireAi.Core.Identity;
using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Migrator;

/// <summary>
/// Creates the database if the server does not have it yet, applies the embedded migrations (under the migrator's
/// advisory lock, so a second migrator waits instead of racing), seeds the first administrator, and stops the
/// host. A failure exits with 1, which keeps every service that waits for this one from starting.
/// </summary>
internal sealed partial class MigrationService(
    NpgsqlDataSource dataSource,
    DatabaseMigrator migrator,
    AdminSeeder seeder,
    IOptions<AdminSeedOptions> admin,
    IConfiguration configuration,
    IHostEnvironment environment,
    IHostApplicationLifetime lifetime,
    ILogger<MigrationService> logger) : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        try
        {
            await EnsureDatabaseAsync(stoppingToken);
            var applied = await migrator.MigrateAsync(stoppingToken);
            LogMigrated(applied.Count, applied.Count == 0 ? "schema up to date" : string.Join(", ", applied));

            var seed = admin.Value;
            if (string.IsNullOrEmpty(seed.Email) || string.IsNullOrEmpty(seed.Password))
            {
                throw new InvalidOperationException(environment.IsDevelopment()
                    ? "Admin:Email and Admin:Password are empty; AppHost/appsettings.Development.json should set them."
                    : "Admin:Email and Admin:Password must be set outside Development (Admin__Email, Admin__Password on the AppHost).");
            }
            // The seeder logs whether it created the administrator; an existing one is left as it is.
            await seeder.SeedAsync(seed, stoppingToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException || !stoppingToken.IsCancellationRequested)
        {
            LogFailed(ex);
            Environment.ExitCode = 1;
        }
        finally
        {
            lifetime.StopApplication();
        }
    }

    /// <summary>
    /// A local server fresh from initdb, or an external one given by connection string, may not have the
    /// application's database yet; it is created through the maintenance database with the same credentials.
    /// </summary>
    private async Task EnsureDatabaseAsync(CancellationToken cancellationToken)
    {
        try
        {
            await using var probe = await dataSource.OpenConnectionAsync(cancellationToken);
            return;
        }
        catch (PostgresException ex) when (ex.SqlState == PostgresErrorCodes.InvalidCatalogName)
        {
            // Falls through to create it.
        }

        // From configuration: the data source's own copy of the connection string has the password removed.
        var target = new NpgsqlConnectionStringBuilder(configuration.GetConnectionString(ResourceNames.Postgres));
        var database = target.Database ?? throw new InvalidOperationException("The postgres connection string names no database.");
        var maintenance = new NpgsqlConnectionStringBuilder(target.ConnectionString) { Database = "postgres", Pooling = false };
        await using var connection = new NpgsqlConnection(maintenance.ConnectionString);
        await connection.OpenAsync(cancellationToken);
        // Identifiers cannot be parameters; the name is quoted as an identifier.
        await using var create = new NpgsqlCommand($"CREATE DATABASE \"{database.Replace("\"", "\"\"", StringComparison.Ordinal)}\"", connection);
        await create.ExecuteNonQueryAsync(cancellationToken);
        LogCreatedDatabase(database);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Created database {Database}")]
    private partial void LogCreatedDatabase(string database);

    [LoggerMessage(Level = LogLevel.Information, Message = "Migrations: {Count} applied ({Versions})")]
    private partial void LogMigrated(int count, string versions);

    [LoggerMessage(Level = LogLevel.Critical, Message = "Migration failed; the services that wait for the migrator will not start")]
    private partial void LogFailed(Exception exception);
}
