using System.Security.Cryptography;
using System.Text.Json;
using Microsoft.Extensions.Configuration;

namespace AspireAi.AppHost;

/// <summary>
/// Secret parameters in Aspire's style: taken from configuration (<c>Parameters:name</c>) when given, otherwise
/// generated once and kept in the data directory (mode 0600), because the Postgres cluster is initialised with
/// the first password and must get the same one on every later start.
/// </summary>
public sealed class Parameters(IConfiguration configuration, string dataDirectory)
{
    private readonly Lock _gate = new();

    // Hex by default: it stays safe inside connection strings and command lines.
    public string Get(string name) => Get(name, static () => Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(24)));

    /// <summary>Like <see cref="Get(string)"/>, with a generator for values that need a particular shape (e.g. a base64 key).</summary>
    public string Get(string name, Func<string> generate)
    {
        if (configuration[$"Parameters:{name}"] is { Length: > 0 } configured)
        {
            return configured;
        }
        lock (_gate)
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
                File.WriteAllText(path, JsonSerializer.Serialize(stored));
                File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite);
            }
            return value;
        }
    }
}
