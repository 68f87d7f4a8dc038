using AspireAi.ServiceDefaults;
using AspireAi.ServiceDefaults.ErrorHandling;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Hosting;
using Npgsql;

namespace AspireAi.Core.Data;

public static class PostgresExtensions
{
    /// <summary>
    /// Registers a pooled <see cref="NpgsqlDataSource"/> from <c>ConnectionStrings:{connectionName}</c> (the key
    /// Aspire injects) and a readiness health check, the way Aspire's Npgsql client integration does.
    /// </summary>
    public static IHostApplicationBuilder AddNpgsqlDataSource(this IHostApplicationBuilder builder, string connectionName = ResourceNames.Postgres)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddSingleton(sp =>
        {
            var connectionString = sp.GetRequiredService<IConfiguration>().GetConnectionString(connectionName);
            if (string.IsNullOrWhiteSpace(connectionString))
            {
                throw new InvalidOperationException(
                    $"ConnectionStrings:{connectionName} is not set. Start the stack with the AppHost, or set ConnectionStrings__{connectionName}.");
            }
            var dataSourceBuilder = new NpgsqlDataSourceBuilder(connectionString);
            dataSourceBuilder.UseLoggerFactory(sp.GetService<Microsoft.Extensions.Logging.ILoggerFactory>());
            return dataSourceBuilder.Build();
        });
        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddOptions<DatabaseOptions>().BindConfiguration(DatabaseOptions.SectionName).ValidateOnStart();
        builder.Services.AddHostedService<MigrateOnStartService>();
        builder.Services.AddProblemExceptionHandler<DatabaseUnavailableHandler>();
        builder.Services.AddProblemExceptionHandler<DatabaseInputRejectedHandler>();
        builder.Services.AddHealthChecks().AddCheck<PostgresHealthCheck>(connectionName, HealthStatus.Unhealthy, ["ready"]);
        return builder;
    }
}

internal sealed class PostgresHealthCheck(NpgsqlDataSource dataSource) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            await using var command = dataSource.CreateCommand("SELECT 1");
            await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException or InvalidOperationException)
        {
            return HealthCheckResult.Unhealthy("PostgreSQL is unreachable.", ex);
        }
    }
}
