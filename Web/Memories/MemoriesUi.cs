namespace AspireAi.Web.Memories;

// The memory panel beside the chat, the memories page and the admin memory browser: services and endpoints.
internal static class MemoriesUi
{
    public static IHostApplicationBuilder AddMemoriesUi(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapMemoriesUi(this IEndpointRouteBuilder app) => app;
}
