using AspireAi.Core.Chat;
using AspireAi.Core.Data;
using AspireAi.Core.Llm;
using AspireAi.Core.Redis;

namespace AspireAi.Api.Extensions;

internal static class Extensions
{
    public static void AddApplicationServices(this IHostApplicationBuilder builder)
    {
        builder.AddNpgsqlDataSource();
        builder.AddRedisClient();
        builder.AddAuth();
        builder.Services.AddValidation();
        builder.AddLlm();
        builder.AddChat();
    }
}
