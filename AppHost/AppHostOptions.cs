using System.ComponentModel.DataAnnotations;

namespace AspireAi.AppHost;

/// <summary>How the AppHost runs the stack. Every value can be set in appsettings, as AppHost__X environment
/// variables, or with the command-line switches listed in <see cref="SwitchMappings"/>.</summary>
public sealed class AppHostOptions
{
    public const string SectionName = "AppHost";

    public static readonly Dictionary<string, string> SwitchMappings = new(StringComparer.Ordinal)
    {
        ["--non-interactive"] = "AppHost:NonInteractive",
        ["--data-dir"] = "AppHost:DataDirectory",
        ["--api-port"] = "AppHost:ApiPort",
        ["--workers-port"] = "AppHost:WorkersPort",
        ["--web-port"] = "AppHost:WebPort",
        ["--postgres-port"] = "AppHost:PostgresPort",
        ["--redis-port"] = "AppHost:RedisPort",
        ["--startup-timeout"] = "AppHost:StartupTimeoutSeconds",
    };

    /// <summary>No live table; exit non-zero when a resource does not become healthy in time. For scripts and tests.</summary>
    public bool NonInteractive { get; set; }

    /// <summary>Where Postgres and Redis keep their data, plus the generated secrets and run state.
    /// Empty means <c>.aspireai/</c> at the repository root (git-ignored).</summary>
    public string DataDirectory { get; set; } = "";

    [Range(1, 65535)] public int ApiPort { get; set; } = 5080;
    [Range(1, 65535)] public int WorkersPort { get; set; } = 5085;
    [Range(1, 65535)] public int WebPort { get; set; } = 5090;
    [Range(1, 65535)] public int PostgresPort { get; set; } = 55432;
    [Range(1, 65535)] public int RedisPort { get; set; } = 56379;

    [Range(5, 3600)] public int StartupTimeoutSeconds { get; set; } = 180;

    /// <summary>False makes the local Postgres and Redis skip fsync: faster, and fine for throw-away test stacks.</summary>
    public bool Durable { get; set; } = true;

    [Range(1, 3600)] public int MaxRestartDelaySeconds { get; set; } = 30;
}
