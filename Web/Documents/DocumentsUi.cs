using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using Microsoft.Extensions.Options;

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

#pragma warning disable EXTEXP0001 // RemoveAllResilienceHandlers: experimental, but the documented way to drop the default handler
        builder.Services.AddHttpClient<DocumentUploadClient>((services, client) =>
            {
                client.BaseAddress = ApiClientExtensions.ApiBaseAddress;
                client.Timeout = services.GetRequiredService<IOptions<DocumentsUiOptions>>().Value.UploadTimeout;
            })
            .ConfigurePrimaryHttpMessageHandler(() => ApiClientExtensions.CreateHandler(drainResponses: true))
            .AddHttpMessageHandler<ForwardedForHandler>()
            // Not retried and not cut off after the standard 10 s attempt: the file streams through only once.
            .RemoveAllResilienceHandlers();
#pragma warning restore EXTEXP0001
        builder.Services.AddSingleton<DocumentsFlash>();
        return builder;
    }

    public static IEndpointRouteBuilder MapDocumentsUi(this IEndpointRouteBuilder app)
    {
        app.MapDocumentUpload();
        return app;
    }
}
