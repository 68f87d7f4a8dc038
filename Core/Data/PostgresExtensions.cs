using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AspireAi.Core.Data;

public static class PostgresExtensions
{
    /// <summary>
    /// The database of the app: Aspire's pooled <c>NpgsqlDataSource</c> from <c>ConnectionStrings:postgres</c> (with
    /// its health check, tracing and metrics) mapping <c>vector</c> to <c>Pgvector.Vector</c>, and the migrator. The
    /// host maps database exceptions to ProblemDetails (Api/Problems).
    /// </summary>
    public static IHostApplicationBuilder AddDatabase(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var options = builder.Configuration.GetSection(DatabaseOptions.SectionName).Get<DatabaseOptions>() ?? new DatabaseOptions();
        builder.AddNpgsqlDataSource(ResourceNames.Postgres, configureDataSourceBuilder: dataSource =>
        {
            dataSource.UseVector();
            // The app keeps no session state on a pooled connection (settings are SET LOCAL, locks are transaction
            // locks or released in a finally), so the reset Npgsql sends on every checkout is pure cost: three
            // statements each time, a third of the statements of a chat turn (bench/AspireAi.ChatBench).
            dataSource.ConnectionStringBuilder.NoResetOnClose = true;
            // An out-of-range value is left to the options validation, which stops the start naming it.
            if (dataSource.ConnectionStringBuilder.MaxAutoPrepare == 0 && options.MaxAutoPrepare is >= 0 and <= DatabaseOptions.MaxAutoPrepareLimit)
            {
                dataSource.ConnectionStringBuilder.MaxAutoPrepare = options.MaxAutoPrepare;
                // Npgsql's default (5 runs) leaves most of a turn's statements unprepared on a pool of many connections.
                dataSource.ConnectionStringBuilder.AutoPrepareMinUsages = 2;
            }
        });
        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddHostedService<MigrateOnStartService>();
        return builder;
    }
}
