using AspireAi.Core.Chat;
using AspireAi.Core.Data;
using AspireAi.Core.Documents;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.Api.Mcp;
using AspireAi.Api.OpenAiCompat;
using AspireAi.Api.OpenApi;
using AspireAi.Core.Redis;
using AspireAi.ServiceDefaults;

namespace AspireAi.Api.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Web calls the Api on the browser's behalf and says so in X-Forwarded-For; only loopback proxies are trusted
        // by default (KnownNetworks 127.0.0.0/8, KnownProxies ::1): set ForwardedHeaders options for other topologies.
        builder.Services.Configure<ForwardedHeadersOptions>(o => o.ForwardedHeaders = Microsoft.AspNetCore.HttpOverrides.ForwardedHeaders.XForwardedFor);
        builder.AddDatabase();
        builder.AddRedisClient(ResourceNames.Redis, configureOptions: RedisConnectionDefaults.Apply);
        builder.AddAuth();
        builder.Services.AddValidation();
        builder.AddLlm();
        builder.AddChat();
        builder.AddJobs();
        builder.AddMemory();
        builder.AddDocuments();
        builder.AddApiDocumentation();
        builder.AddOpenAiCompat();
        builder.AddMcp();
    }
}
