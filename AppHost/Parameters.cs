using System.Security.Cryptography;
using System.Text.Json;

namespace AspireAi.AppHost;

/// <summary>
/// Secret parameters generated on the first run and kept in the data directory (mode 0600), because the local
/// Postgres cluster is initialised with the first password and must get the same one on every later start.
/// <c>Parameters:name</c> in configuration (e.g. <c>Parameters__postgres-password</c>) wins over the stored value.
/// </summary>
public static class Parameters
{
    private static readonly Lock Gate = new();

    /// <summary>
    /// A secret Aspire parameter whose value is configured, or generated once and kept; the value is returned too,
    /// for the AppHost's own use (health checks, a server's configuration file).
    /// </summary>
    public static GeneratedSecret AddGeneratedSecret(this IDistributedApplicationBuilder builder,
        string name, string dataDirectory, Func<string>? generate = null)
    {
        var value = builder.Configuration[$"Parameters:{name}"] is { Length: > 0 } configured
            ? configured
            : Stored(name, dataDirectory, generate ?? Hex);
        return new(builder.AddParameter(name, value, secret: true), value);
    }

    // Hex by default: it stays safe inside connection strings, configuration files and command lines.
    private static string Hex() => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24));

    private static string Stored(string name, string dataDirectory, Func<string> generate)
    {
        lock (Gate)
        {
            var path = Path.Combine(dataDirectory, "parameters.json");
            var stored = File.Exists(path)
                ? JsonSerializer.Deserialize<Dictionary<string, string>>(File.ReadAllText(path)) ?? []
                : [];
            if (!stored.TryGetValue(name, out var value))
            {
                value = generate();
                stored[name] = value;
                Directory.CreateDirectory(dataDirectory);
                WriteSecretFile(path, JsonSerializer.Serialize(stored));
            }
            return value;
        }
    }

    /// <summary>Writes a file only its owner can read, created so from the start rather than restricted afterwards.</summary>
    public static void WriteSecretFile(string path, string contents)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }
        using (var writer = new StreamWriter(path, options))
        {
            writer.Write(contents);
        }
        if (!OperatingSystem.IsWindows())
        {
            // An existing file keeps its old mode when overwritten.
            File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }
    }
}

public sealed record GeneratedSecret(IResourceBuilder<ParameterResource> Parameter, string Value);
