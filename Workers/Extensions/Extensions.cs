using AspireAi.Core.Data;
using AspireAi.Core.Redis;

namespace AspireAi.Workers.Extensions;

internal static class Extensions
{
    public static void AddWorkerServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource();
        builder.AddRedisClient();
    }
}
