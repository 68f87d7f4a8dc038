using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;

namespace AspireAi.Web.Documents;

// The documents page (upload, status, delete) and the chunk pages citations link to: services and endpoints.
internal static class DocumentsUi
{
    public static IHostApplicationBuilder AddDocumentsUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<DocumentsUiOptions>()
            .BindConfiguration(DocumentsUiOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        builder.Services.AddUserApiClient<DocumentsClient>();

        builder.Services.AddSingleton<DocumentUploadClient>();
        builder.Services.AddSingleton<DocumentsFlash>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDocumentsUi(this IEndpointRouteBuilder app)
    {
        app.MapDocumentUpload();
        return app;
    }
}
