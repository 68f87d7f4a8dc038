using Microsoft.Extensions.Configuration;
using System.Security.Cryptography;

namespace AspireAi.AppHost;

public static class ServiceExtensions
{
    /// <summary>The key access tokens are signed with, generated once and kept like the database passwords.</summary>
    public static IResourceBuilder<ParameterResource> AddSigningKey(this IDistributedApplicationBuilder builder, AppHostOptions options) =>
        builder.AddGeneratedSecret("auth-signing-key", options.DataDirectory,
            static () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))).Parameter;

    /// <summary>
    /// The project listens on a fixed port of its own, not behind DCP's proxy, so its address stays the same across
    /// restarts and matches the README.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithFixedHttpPort(this IResourceBuilder<ProjectResource> project, int port) =>
        project.WithEndpoint("http", endpoint =>
        {
            endpoint.Port = port;
            endpoint.TargetPort = port;
            endpoint.IsProxied = false;
        });

    /// <summary>
    /// Application settings given to the AppHost (its appsettings, <c>Llm__*</c> environment variables, switches)
    /// reach the services that own them.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithBackendSettings(this IResourceBuilder<ProjectResource> project, IConfiguration configuration) =>
        project.WithAppSettings(configuration, "Llm", "Chat", "Pricing", "Auth", "Memory", "Documents", "Jobs");

    /// <summary>Passes the given configuration sections on as environment variables (<c>Section__Key</c>).</summary>
    public static IResourceBuilder<ProjectResource> WithAppSettings(this IResourceBuilder<ProjectResource> project,
        IConfiguration configuration, params string[] sections) =>
        project.WithEnvironment(context =>
        {
            foreach (var section in sections)
            {
                foreach (var (key, value) in configuration.GetSection(section).AsEnumerable())
                {
                    if (value is not null)
                    {
                        context.EnvironmentVariables[key.Replace(":", "__", StringComparison.Ordinal)] = value;
                    }
                }
            }
        });
}
