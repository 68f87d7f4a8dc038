using System.Globalization;
using System.Text.RegularExpressions;
using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Web.Memories;

// The memory panel beside the chat, the memories page and the admin memory browser: services and endpoints.
internal static partial class MemoriesUi
{
    public const string ExportPath = "/memories/export";

    public static IHostApplicationBuilder AddMemoriesUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddUserApiClient<MemoriesClient>();
#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers: experimental, but the documented way to drop the default handler
        builder.Services.AddHttpClient<MemoryEventsClient>(client =>
            {
                client.BaseAddress = ApiClientExtensions.ApiBaseAddress;
                // Open for as long as the page is: the standard handler's timeouts would cut it every few seconds.
                client.Timeout = Timeout.InfiniteTimeSpan;
            })
            // Not draining: leaving the page must close the connection at once, which ends the Api's subscription.
            .ConfigurePrimaryHttpMessageHandler(() => ApiClientExtensions.CreateHandler(drainResponses: false))
            .AddHttpMessageHandler<ForwardedForHandler>()
            .AddHttpMessageHandler<ApiBearerTokenHandler>()
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        return builder;
    }

    // The pages post their forms to themselves; only the download needs an endpoint, because a page cannot
    // answer with a file.
    public static IEndpointRouteBuilder MapMemoriesUi(this IEndpointRouteBuilder app)
    {
        app.MapGet(ExportPath, ExportAsync)
            .RequireAuthorization()
            .AddEndpointFilter<ApiProblemFilter>();
        return app;
    }

    // Streams the Api's export through (it can be large: every version and its history) as an attachment.
    private static async Task<PushStreamHttpResult> ExportAsync(MemoriesClient memories, HttpContext context, TimeProvider time)
    {
        var upstream = await memories.OpenExportAsync(context.RequestAborted);
        // Personal data: no cache along the way may keep a copy.
        context.Response.Headers.CacheControl = "no-store";
        return TypedResults.Stream(
            async body =>
            {
                using (upstream)
                {
                    var source = await upstream.Content.ReadAsStreamAsync(context.RequestAborted);
                    await source.CopyToAsync(body, context.RequestAborted);
                }
            },
            MemoriesClient.ExportMediaType,
            ExportFileName(upstream, time));
    }

    // The Api's name when it is a plain file name; otherwise one of our own. Never a path or quoted oddity.
    private static string ExportFileName(HttpResponseMessage upstream, TimeProvider time)
    {
        var name = upstream.Content.Headers.ContentDisposition?.FileName?.Trim('"');
        return name is not null && SafeFileName().IsMatch(name)
            ? name
            : $"memories-{time.GetUtcNow().ToString("yyyyMMdd'T'HHmmss'Z'", CultureInfo.InvariantCulture)}.json";
    }

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,100}\\.json$")]
    private static partial Regex SafeFileName();
}
