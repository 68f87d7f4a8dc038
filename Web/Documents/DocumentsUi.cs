namespace AspireAi.Web.Documents;

// The documents page (upload, status, delete) and the chunk pages citations link to: services and endpoints.
internal static class DocumentsUi
{
    public static IHostApplicationBuilder AddDocumentsUi(this IHostApplicationBuilder builder) => builder;

    public static IEndpointRouteBuilder MapDocumentsUi(this IEndpointRouteBuilder app) => app;
}
