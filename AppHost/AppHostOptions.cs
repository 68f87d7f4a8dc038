using Microsoft.Extensions.Configuration;
using System.ComponentModel.DataAnnotations;

namespace AspireAi.AppHost;

/// <summary>Where Postgres and Redis come from.</summary>
public enum InfrastructureMode
{
    /// <summary>Local processes from the Debian packages (no container runtime needed).</summary>
    Local,

    /// <summary>Aspire's AddPostgres (a pgvector image) and AddRedis, for machines with a container runtime.</summary>
    Containers,
}

/// <summary>
/// The <c>AppHost</c> section: appsettings, <c>AppHost__X</c> environment variables, or the switches in
/// <see cref="SwitchMappings"/>. Fixed, non-proxied ports keep the addresses stable across restarts.
/// </summary>
public sealed class AppHostOptions
{
    public const string SectionName = "AppHost";

    public static readonly Dictionary<string, string> SwitchMappings = new(StringComparer.Ordinal)
    {
        ["--data-dir"] = "AppHost:DataDirectory",
        ["--infrastructure"] = "AppHost:Infrastructure",
        ["--api-port"] = "AppHost:ApiPort",
        ["--workers-port"] = "AppHost:WorkersPort",
        ["--web-port"] = "AppHost:WebPort",
        ["--postgres-port"] = "AppHost:PostgresPort",
        ["--redis-port"] = "AppHost:RedisPort",
        ["--api-replicas"] = "AppHost:ApiReplicas",
        ["--workers-replicas"] = "AppHost:WorkersReplicas",
    };

    public InfrastructureMode Infrastructure { get; set; } = InfrastructureMode.Local;

    /// <summary>Where local Postgres and Redis keep their data and the generated secrets are kept.
    /// Empty means <c>.aspireai/</c> at the repository root (git-ignored).</summary>
    public string DataDirectory { get; set; } = "";

    [Range(1, 65535)] public int ApiPort { get; set; } = 5080;
    [Range(1, 65535)] public int WorkersPort { get; set; } = 5085;
    [Range(1, 65535)] public int WebPort { get; set; } = 5090;
    [Range(1, 65535)] public int PostgresPort { get; set; } = 55432;
    [Range(1, 65535)] public int RedisPort { get; set; } = 56379;

    /// <summary>Instances of the Api; more than one puts them behind DCP's proxy on <see cref="ApiPort"/>.</summary>
    [Range(1, 16)] public int ApiReplicas { get; set; } = 1;

    /// <summary>Instances of the Workers; more than one puts them behind DCP's proxy on <see cref="WorkersPort"/>.</summary>
    [Range(1, 16)] public int WorkersReplicas { get; set; } = 1;

    /// <summary>False makes the local Postgres and Redis skip fsync: faster, and fine for throw-away test stacks.</summary>
    public bool Durable { get; set; } = true;

    public static AppHostOptions Read(IDistributedApplicationBuilder builder)
    {
        var options = builder.Configuration.GetSection(SectionName).Get<AppHostOptions>() ?? new AppHostOptions();
        Validator.ValidateObject(options, new ValidationContext(options), validateAllProperties: true);
        options.DataDirectory = Path.GetFullPath(string.IsNullOrWhiteSpace(options.DataDirectory)
            ? Path.Combine(builder.AppHostDirectory, "..", ".aspireai")
            : options.DataDirectory);
        return options;
    }
}
