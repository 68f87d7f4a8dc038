using AspireAi.AppHost;
using AspireAi.ServiceDefaults;
using Microsoft.Extensions.Configuration;

// The architecture diagram: Postgres and Redis, the migrator, then Api, Workers and Web, with the Aspire dashboard.
var builder = DistributedApplication.CreateBuilder(args);
builder.Configuration.AddCommandLine(args, AppHostOptions.SwitchMappings);
var options = AppHostOptions.Read(builder);

var postgres = builder.AddAspireAiPostgres(ResourceNames.Postgres, options);
var redis = builder.AddAspireAiRedis(ResourceNames.Redis, options);
var signingKey = builder.AddSigningKey(options);
// Wraps the per-organisation keys that encrypt messages, memories and document chunks at rest.
var masterKey = builder.AddEncryptionMasterKey(options);
// Web proves with it that its X-Forwarded-For is to be believed; other local callers' headers are ignored.
var proxyKey = builder.AddGeneratedSecret("proxy-key", options.DataDirectory).Parameter;

// The schema is current and the first administrator exists before any service starts.
var migrator = builder.AddProject<Projects.AspireAi_Migrator>(ResourceNames.Migrator)
    .WithReference(postgres).WaitFor(postgres)
    .WithAppSettings(builder.Configuration, "Admin");

// Api and Workers share the stores, the migrated schema, the signing key and the application settings.
// Replicas share limits (Redis), sessions and jobs (Postgres); while Redis is down each Api instance keeps its
// share of every rate limit, which is why it is told how many there are.
var api = builder.AddProject<Projects.AspireAi_Api>(ResourceNames.Api)
    .WithHttpPort(options.ApiPort, options.ApiReplicas)
    .AsBackend(postgres, redis, migrator, signingKey, builder.Configuration)
    .WithEnvironment("Encryption__MasterKey", masterKey)
    .WithEnvironment("Proxy__Key", proxyKey)
    .WithEnvironment("RateLimits__InstanceCount", options.ApiReplicas.ToString(System.Globalization.CultureInfo.InvariantCulture))
    .WithHttpHealthCheck("/health");

builder.AddProject<Projects.AspireAi_Workers>(ResourceNames.Workers)
    .WithHttpPort(options.WorkersPort, options.WorkersReplicas)
    .AsBackend(postgres, redis, migrator, signingKey, builder.Configuration)
    .WithEnvironment("Encryption__MasterKey", masterKey)
    .WithHttpHealthCheck("/health");

// Web starts alongside the Api instead of after it: it only needs the Api's address (WithReference) and calls it per
// request, so waiting for the Api to be healthy first only added the Web's own start-up time to every start.
builder.AddProject<Projects.AspireAi_Web>(ResourceNames.Web)
    .WithFixedHttpPort(options.WebPort)
    .WithReference(api)
    .WithEnvironment("Proxy__Key", proxyKey)
    .WithHttpHealthCheck("/health");

builder.Build().Run();
