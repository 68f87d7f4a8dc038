using System.Reflection;

namespace AspireAi.AppHost.Orchestration;

/// <summary>A service project the AppHost starts: its directory (the content root) and its built entry point.</summary>
public sealed record ServiceProject(string Name, string ProjectDirectory, string EntryAssembly)
{
    /// <summary>The native launcher next to the dll when the SDK produced one (it makes `ps` show the service's
    /// name), otherwise <c>dotnet &lt;dll&gt;</c>.</summary>
    public (string FileName, IReadOnlyList<string> Arguments) Command()
    {
        var launcher = Path.ChangeExtension(EntryAssembly, null);
        return File.Exists(launcher) ? (launcher, []) : (DotnetHost(), [EntryAssembly]);
    }

    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host ? host : "dotnet";
}

/// <summary>Reads the service paths that AspireAi.AppHost.csproj records at build time (see AddServiceProjectMetadata).</summary>
public static class ServiceProjects
{
    private const string Prefix = "service:";

    public static ServiceProject Get(string resourceName)
    {
        var all = typeof(ServiceProjects).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .Where(a => a.Key.StartsWith(Prefix, StringComparison.Ordinal) && a.Value is not null)
            .Select(a => new ServiceProject(
                ResourceNameOf(a.Key[Prefix.Length..]),
                Path.GetDirectoryName(a.Key[Prefix.Length..])!,
                a.Value!))
            .ToList();
        return all.SingleOrDefault(p => p.Name == resourceName)
            ?? throw new InvalidOperationException($"The AppHost was built without the '{resourceName}' service project.");
    }

    // AspireAi.Api.csproj -> "api": the resource names are the project names without the product prefix.
    private static string ResourceNameOf(string projectFile) =>
        Path.GetFileNameWithoutExtension(projectFile).Replace("AspireAi.", "", StringComparison.Ordinal).ToLowerInvariant();

    /// <summary>The repository root: the AppHost project's parent directory.</summary>
    public static string RepositoryRoot =>
        Path.GetDirectoryName(Get("api").ProjectDirectory) ?? throw new InvalidOperationException("Cannot locate the repository root.");
}
