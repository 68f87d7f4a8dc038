using AspireAi.Core.Data;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Npgsql;

namespace AspireAi.Tests.Data;

public sealed class MigratorTests
{
    [Fact]
    public async Task Migrations_are_recorded_once_and_rerunning_applies_nothing()
    {
        var servers = await TestServers.GetAsync();
        var migrator = new DatabaseMigrator(servers.DataSource, NullLogger<DatabaseMigrator>.Instance);

        var applied = await migrator.MigrateAsync();

        Assert.Empty(applied);
        await using var command = servers.DataSource.CreateCommand("SELECT version FROM schema_migrations ORDER BY version");
        var versions = new List<string>();
        await using var reader = await command.ExecuteReaderAsync();
        while (await reader.ReadAsync())
        {
            versions.Add(reader.GetString(0));
        }
        Assert.Equal(DatabaseMigrator.EmbeddedMigrations.Select(m => m.Version), versions);
    }

    [Fact]
    public async Task Concurrent_migrators_on_a_fresh_database_apply_each_migration_exactly_once()
    {
        var servers = await TestServers.GetAsync();
        var database = $"migrate_{Guid.NewGuid():N}";
        await using (var create = servers.DataSource.CreateCommand($"CREATE DATABASE {database}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        await using var dataSource = NpgsqlDataSource.Create(servers.Postgres.ConnectionStringFor(database));

        var results = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ =>
            new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync()));

        // Exactly one racer did the work; the others waited on the advisory lock and found nothing to do.
        Assert.Single(results, r => r.Count == DatabaseMigrator.EmbeddedMigrations.Count);
        Assert.Equal(3, results.Count(r => r.Count == 0));
        await using var vector = dataSource.CreateCommand("SELECT extversion FROM pg_extension WHERE extname = 'vector'");
        Assert.NotNull(await vector.ExecuteScalarAsync());
    }

    [Fact]
    public async Task A_migration_edited_after_it_was_applied_is_refused()
    {
        var servers = await TestServers.GetAsync();
        var database = $"migrate_{Guid.NewGuid():N}";
        await using (var create = servers.DataSource.CreateCommand($"CREATE DATABASE {database}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        await using var dataSource = NpgsqlDataSource.Create(servers.Postgres.ConnectionStringFor(database));
        var migrator = new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance);
        await migrator.MigrateAsync();
        await using (var tamper = dataSource.CreateCommand("UPDATE schema_migrations SET checksum = 'edited' WHERE version = '0001'"))
        {
            await tamper.ExecuteNonQueryAsync();
        }

        var error = await Assert.ThrowsAsync<InvalidOperationException>(() => migrator.MigrateAsync());
        Assert.Contains("0001_identity", error.Message, StringComparison.Ordinal);
    }
}
