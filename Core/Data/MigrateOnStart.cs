using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Data;

/// <summary>The <c>Database</c> section.</summary>
public sealed class DatabaseOptions
{
    public const string SectionName = "Database";

    /// <summary>
    /// Apply the embedded migrations when the service starts, before it serves anything. Off by default because
    /// our AppHost migrates before it starts any service; turn it on where nothing else does (a real Aspire AppHost,
    /// a container platform). Safe with several instances: the migrator takes an advisory lock and exactly one
    /// applies each migration.
    /// </summary>
    public bool MigrateOnStart { get; set; }

    /// <summary>
    /// How many statements Npgsql keeps prepared on each pooled connection; a statement is prepared on its second run.
    /// Prepared, a statement skips PostgreSQL's parse and, once the server settles on a generic plan, its planning: a
    /// third of the database's CPU per chat turn (bench/AspireAi.ChatBench). Searches still plan for their values
    /// (<see cref="PlanCache"/>). 0 turns it off; a <c>Max Auto Prepare</c> in the connection string wins.
    /// </summary>
    [System.ComponentModel.DataAnnotations.Range(0, MaxAutoPrepareLimit)]
    public int MaxAutoPrepare { get; set; } = 64;

    internal const int MaxAutoPrepareLimit = 1024;
}

/// <summary>
/// Runs <see cref="DatabaseMigrator"/> during host start-up when <see cref="DatabaseOptions.MigrateOnStart"/> is set.
/// Hosted services start before the web server, so no request ever meets an old schema; a failed migration
/// fails the start rather than serving half-migrated.
/// </summary>
internal sealed partial class MigrateOnStartService(
    DatabaseMigrator migrator, IOptions<DatabaseOptions> options, ILogger<MigrateOnStartService> logger) : IHostedService
{
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        if (!options.Value.MigrateOnStart)
        {
            return;
        }

        var applied = await migrator.MigrateAsync(cancellationToken).ConfigureAwait(false);
        LogMigrated(applied.Count, applied);
    }

    public Task StopAsync(CancellationToken cancellationToken) => Task.CompletedTask;

    [LoggerMessage(Level = LogLevel.Information, Message = "Database migrated on start: {Count} migration(s) applied ({Versions})")]
    private partial void LogMigrated(int count, IReadOnlyList<string> versions);
}
