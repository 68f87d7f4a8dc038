using System.Net;
using AspireAi.Core.Data;
using AspireAi.Tests.Infrastructure;
using Npgsql;

namespace AspireAi.Tests.Data;

// Database:MigrateOnStart, for hosts where no AppHost migrates first: the Api brings an empty database up to date
// before it serves, and leaves it alone when the option is off.
public sealed class MigrateOnStartTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task With_the_option_on_the_api_migrates_an_empty_database_before_serving()
    {
        var database = await CreateDatabaseAsync();
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = factory.Servers.Postgres.ConnectionStringFor(database),
            ["Database:MigrateOnStart"] = "true",
        });

        using var client = api.CreateClient();
        using var health = await client.GetAsync("/health");

        Assert.Equal(HttpStatusCode.OK, health.StatusCode);
        await using var dataSource = NpgsqlDataSource.Create(factory.Servers.Postgres.ConnectionStringFor(database));
        await using var versions = dataSource.CreateCommand("SELECT array_agg(version ORDER BY version) FROM schema_migrations");
        Assert.Equal(DatabaseMigrator.EmbeddedMigrations.Select(m => m.Version), (string[])(await versions.ExecuteScalarAsync())!);
    }

    [Fact]
    public async Task By_default_the_api_leaves_the_schema_to_the_apphost()
    {
        var database = await CreateDatabaseAsync();
        await using var api = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = factory.Servers.Postgres.ConnectionStringFor(database),
        });

        using var client = api.CreateClient();
        using var alive = await client.GetAsync("/alive");

        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        await using var dataSource = NpgsqlDataSource.Create(factory.Servers.Postgres.ConnectionStringFor(database));
        await using var table = dataSource.CreateCommand("SELECT to_regclass('schema_migrations') IS NULL");
        Assert.True((bool)(await table.ExecuteScalarAsync())!);
    }

    private async Task<string> CreateDatabaseAsync()
    {
        var database = $"migrate_on_start_{Guid.NewGuid():N}";
        await using var create = factory.DataSource.CreateCommand($"CREATE DATABASE {database}");
        await create.ExecuteNonQueryAsync();
        return database;
    }
}
