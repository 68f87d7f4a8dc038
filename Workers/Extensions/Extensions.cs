using AspireAi.Core.Caching;
using AspireAi.Core.Data;
using AspireAi.Core.Documents;
using AspireAi.Core.Idempotency;
using AspireAi.Core.Memory;
using AspireAi.Core.Redis;
using AspireAi.ServiceDefaults;
using AspireAi.Workers.Jobs;

namespace AspireAi.Workers.Extensions;

internal static class Extensions
{
    public static void AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddDatabase();
        builder.AddRedisClient(ResourceNames.Redis, configureOptions: RedisConnectionDefaults.Apply);
        builder.AddSharedCache();
        builder.AddJobWorkers();
        builder.AddDocumentIngestion();
        builder.AddMemoryJobs();
        builder.AddIdempotencySweep();
    }
}
