using AspireAi.Api.Admission;
using AspireAi.Api.Auth;
using AspireAi.Api.Problems;
using AspireAi.Api.RateLimiting;
using AspireAi.Core.Chat;
using AspireAi.Core.Caching;
using AspireAi.Core.Data;
using AspireAi.Core.Documents;
using AspireAi.Core.Idempotency;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.Api.Mcp;
using AspireAi.Api.OpenAiCompat;
using AspireAi.Api.OpenApi;
using AspireAi.Core.Redis;
using AspireAi.Core.RetrievalQuality;
using AspireAi.Offline;
using AspireAi.ServiceDefaults;

namespace AspireAi.Api.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        // Web calls the Api on the browser's behalf and says so in X-Forwarded-For, trusted only from Web (shared key)
        // or a configured proxy (Api/Auth/TrustedProxies.cs).
        builder.AddTrustedProxies();
        builder.AddDatabase();
        builder.Services.AddProblemMappings();
        builder.AddRedis();
        builder.AddSharedCache();
        builder.AddAuth();
        builder.AddRateLimits();
        builder.AddAdmission();
        builder.AddIdempotency();
        builder.Services.AddValidation();
        builder.AddLlm();
        builder.Services.AddOfflineModels();
        builder.AddChat();
        builder.AddJobs();
        builder.AddMemory();
        builder.AddDocuments();
        builder.AddRetrievalQuality();
        builder.AddApiDocumentation();
        builder.AddOpenAiCompat();
        builder.AddMcp();
    }
}
