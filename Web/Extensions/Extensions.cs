using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Chat;
using AspireAi.Web.Documents;
using AspireAi.Web.Jobs;
using AspireAi.Web.Memories;
using AspireAi.Web.Http;
using AspireAi.Web.Prompts;
using AspireAi.Web.RetrievalQuality;
using AspireAi.Web.Usage;

namespace AspireAi.Web.Extensions;

internal static class Extensions
{
    public static void AddWebServices(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<WebOptions>()
            .BindConfiguration(WebOptions.SectionName)
            .ValidateDataAnnotations()
            .ValidateOnStart();

        // Static SSR for the pages that are forms and links; Interactive Server where a page lives (chat streaming).
        builder.Services.AddRazorComponents().AddInteractiveServerComponents();
        builder.Services.AddAntiforgery(options => options.HeaderName = AntiforgeryValidationFilter.HeaderName);
        builder.Services.AddBrowserSecurity();

        builder.AddWebAuthentication();
        builder.AddApiClients();
        builder.Services.AddSingleton<MarkdownRenderer>();
        builder.Services.AddScoped<ChatExchanges>();
        builder.AddDocumentsUi();
        builder.AddMemoriesUi();
        builder.AddJobsUi();
        builder.AddUsageUi();
        builder.AddPromptsUi();
        builder.AddRetrievalQualityUi();
    }
}
