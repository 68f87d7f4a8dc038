using AspireAi.Web.Account;
using AspireAi.Web.Chat;
using AspireAi.Web.Components;
using AspireAi.Web.Documents;
using AspireAi.Web.Jobs;
using AspireAi.Web.Memories;
using AspireAi.Web.Extensions;
using AspireAi.Web.Http;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWebServices();

var app = builder.Build();

if (!app.Environment.IsDevelopment())
{
    app.UseExceptionHandler("/Error", createScopeForErrors: true);
    app.UseHsts();
}

app.UseBrowserSecurity();
app.UseAuthentication();
app.UseAuthorization();
app.UseAntiforgery();

app.MapDefaultEndpoints();
app.MapStaticAssets().AllowAnonymous();
app.MapRazorComponents<App>().AddInteractiveServerRenderMode();
app.MapAccountApi();
app.MapDocumentsUi();
app.MapMemoriesUi();
app.MapJobsUi();

app.Run();
