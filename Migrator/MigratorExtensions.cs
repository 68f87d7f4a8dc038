using AspireAi.Core.Data;
using AspireAi.Core.Identity;
using AspireAi.ServiceDefaults;

namespace AspireAi.Migrator;

public static class MigratorExtensions
{
    public static IHostApplicationBuilder AddMigrations(this IHostApplicationBuilder builder)
    {
        // No health checks: a one-shot serves no endpoint; the AppHost watches its exit code instead.
        builder.AddNpgsqlDataSource(ResourceNames.Postgres, configureSettings: s => s.DisableHealthChecks = true);
        builder.Services.AddSingleton<DatabaseMigrator>();
        builder.Services.AddSingleton<AdminSeeder>();
        builder.Services.AddOptions<AdminSeedOptions>().BindConfiguration(AdminSeedOptions.SectionName);
        builder.Services.AddHostedService<MigrationService>();
        return builder;
    }
}
