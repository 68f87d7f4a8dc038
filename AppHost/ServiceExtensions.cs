using Microsoft.Extensions.Configuration;
using System.Security.Cryptography;

namespace AspireAi.AppHost;

public static class ServiceExtensions
{
    /// <summary>The key access tokens are signed with, generated once and kept like the database passwords.</summary>
    public static IResourceBuilder<ParameterResource> AddSigningKey(this IDistributedApplicationBuilder builder, AppHostOptions options) =>
        builder.AddGeneratedSecret("auth-signing-key", options.DataDirectory,
            static () => Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))).Parameter;

    /// <summary>The master key that wraps the organisations' data keys (encryption at rest): generated once into the
    /// data directory unless <c>Parameters:encryption-master-key</c> is given. Losing it loses the encrypted data.</summary>
    public static IResourceBuilder<ParameterResource> AddEncryptionMasterKey(this IDistributedApplicationBuilder builder, AppHostOptions options) =>
        builder.AddGeneratedSecret("encryption-master-key", options.DataDirectory,
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
    /// <paramref name="replicas"/> instances of the project. One listens on <paramref name="port"/> itself
    /// (<see cref="WithFixedHttpPort"/>); several each get a port of their own from DCP behind its proxy, which listens
    /// on <paramref name="port"/> and spreads connections over them (the Web reaches them the same way).
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithHttpPort(this IResourceBuilder<ProjectResource> project, int port, int replicas) =>
        replicas == 1
            ? project.WithFixedHttpPort(port)
            : project.WithEndpoint("http", endpoint =>
            {
                endpoint.Port = port;
                endpoint.TargetPort = null;
                endpoint.IsProxied = true;
            }).WithReplicas(replicas);

    /// <summary>
    /// A backend service: references Postgres and Redis and waits for them and for the migrator to finish, so it
    /// never sees an old schema; gets the token signing key and the application settings.
    /// </summary>
    public static IResourceBuilder<ProjectResource> AsBackend(this IResourceBuilder<ProjectResource> project,
        IResourceBuilder<IResourceWithConnectionString> postgres, IResourceBuilder<IResourceWithConnectionString> redis,
        IResourceBuilder<ProjectResource> migrator, IResourceBuilder<ParameterResource> signingKey, IConfiguration configuration) =>
        project
            .WithReference(postgres).WithReference(redis)
            .WaitFor(postgres).WaitFor(redis).WaitForCompletion(migrator)
            .WithEnvironment("Auth__SigningKey", signingKey)
            .WithBackendSettings(configuration);

    /// <summary>
    /// Application settings given to the AppHost (its appsettings, <c>Llm__*</c> environment variables, switches)
    /// reach the services that own them.
    /// </summary>
    public static IResourceBuilder<ProjectResource> WithBackendSettings(this IResourceBuilder<ProjectResource> project, IConfiguration configuration) =>
        project.WithAppSettings(configuration, "Llm", "Chat", "Pricing", "Auth", "Memory", "Documents", "Jobs", "RateLimits", "Idempotency", "Encryption");

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
