using AspireAi.Core.Data;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.Logging;
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

    [Fact]
    public async Task A_fresh_database_builds_the_memory_graph_with_m_24_and_ef_construction_128()
    {
        await using var dataSource = await FreshDatabaseAsync();

        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        // The reloptions, and the graph itself: m is fixed in the index's metapage when it is built (0024 rebuilds).
        Assert.Equal((24, 128), await GraphSettingsAsync(dataSource));
        await using var options = dataSource.CreateCommand("SELECT indexdef FROM pg_indexes WHERE indexname = 'memories_embedding_idx'");
        Assert.Contains("m='24', ef_construction='128'", (string)(await options.ExecuteScalarAsync())!, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_fresh_database_bounds_the_pending_lists_of_the_memory_keyword_indexes_to_256_kB()
    {
        await using var dataSource = await FreshDatabaseAsync();

        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        await using var options = dataSource.CreateCommand("""
            SELECT c.relname, array_to_string(c.reloptions, ',') FROM pg_class c
            WHERE c.relname IN ('memories_tsv_idx', 'memories_text_bi_idx') ORDER BY c.relname
            """);
        await using var reader = await options.ExecuteReaderAsync();
        var found = new List<(string, string)>();
        while (await reader.ReadAsync())
        {
            found.Add((reader.GetString(0), reader.GetString(1)));
        }
        Assert.Equal([("memories_text_bi_idx", "gin_pending_list_limit=256"), ("memories_tsv_idx", "gin_pending_list_limit=256")], found);
    }

    [Fact]
    public async Task A_fresh_database_leaves_room_on_each_memory_page_for_a_heap_only_update()
    {
        await using var dataSource = await FreshDatabaseAsync();

        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();

        await using var options = dataSource.CreateCommand("SELECT c.reloptions FROM pg_class c WHERE c.relname = 'memories'");
        var settings = (string[])(await options.ExecuteScalarAsync())!;
        Assert.Contains("fillfactor=70", settings);
        Assert.Contains("toast_tuple_target=4000", settings); // 0023's, kept
    }

    [Fact]
    public async Task Past_50000_memories_migration_0024_keeps_the_graph_and_warns_the_operator_to_reindex_concurrently()
    {
        await using var dataSource = await FreshDatabaseAsync();
        await new DatabaseMigrator(dataSource, NullLogger<DatabaseMigrator>.Instance).MigrateAsync();
        // A database from before 0024 with 50,001 memories: the old graph (m 16) over an index left empty, so that the
        // test does not build a real 50k-vector graph; 0024 only looks at the table's size.
        await using (var setup = dataSource.CreateCommand("""
            DROP INDEX memories_embedding_idx;
            CREATE INDEX memories_embedding_idx ON memories USING hnsw (embedding vector_cosine_ops) WHERE invalidated_at IS NULL AND false;
            INSERT INTO orgs (id, name) VALUES ('00000000-0000-7000-8000-00000000a024', 'migration 0024');
            INSERT INTO memories (id, lineage_id, org_id, scope, type, text, embedding, embedding_model, content_hash)
            SELECT gen_random_uuid(), gen_random_uuid(), '00000000-0000-7000-8000-00000000a024', 'org', 'semantic', 'fact ' || g,
                   array_fill(0.1, ARRAY[384])::vector, 'm', md5(g::text)
            FROM generate_series(1, 50001) g;
            DELETE FROM schema_migrations WHERE version = '0024';
            """))
        {
            await setup.ExecuteNonQueryAsync();
        }
        using var logs = new CapturingLoggerProvider();
        using var loggers = new LoggerFactory([logs]);

        var applied = await new DatabaseMigrator(dataSource, loggers.CreateLogger<DatabaseMigrator>()).MigrateAsync();

        Assert.Equal(["0024"], applied);
        Assert.Equal(16, (await GraphSettingsAsync(dataSource)).M);
        var warning = Assert.Single(logs.Entries, e => e.Level == LogLevel.Warning);
        Assert.Contains("REINDEX INDEX CONCURRENTLY memories_embedding_idx", warning.Message, StringComparison.Ordinal);
    }

    private static async Task<NpgsqlDataSource> FreshDatabaseAsync()
    {
        var servers = await TestServers.GetAsync();
        var database = $"migrate_{Guid.NewGuid():N}";
        await using (var create = servers.DataSource.CreateCommand($"CREATE DATABASE {database}"))
        {
            await create.ExecuteNonQueryAsync();
        }
        return NpgsqlDataSource.Create(servers.Postgres.ConnectionStringFor(database));
    }

    // pgvector's HNSW metapage (block 0, after the 24-byte page header): magic, version, dimensions (uint32 each), then
    // m and ef_construction (uint16 each, little-endian), as the graph was built.
    private static async Task<(int M, int EfConstruction)> GraphSettingsAsync(NpgsqlDataSource dataSource)
    {
        await using (var extension = dataSource.CreateCommand("CREATE EXTENSION IF NOT EXISTS pageinspect"))
        {
            await extension.ExecuteNonQueryAsync();
        }
        await using var command = dataSource.CreateCommand("SELECT substring(get_raw_page('memories_embedding_idx', 0) FROM 37 FOR 4)");
        var bytes = (byte[])(await command.ExecuteScalarAsync())!;
        return (BitConverter.ToUInt16(bytes, 0), BitConverter.ToUInt16(bytes, 2));
    }
}
