using AspireAi.Api.ApiKeys;
using AspireAi.Api.Audit;
using AspireAi.Api.Auth;
using AspireAi.Api.Chat;
using AspireAi.Api.Conversations;
using AspireAi.Api.Documents;
using AspireAi.Api.Extensions;
using AspireAi.Api.Jobs;
using AspireAi.Api.Memories;
using AspireAi.Api.Prompts;
using AspireAi.Api.Usage;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseTrustedProxies();
app.UseApiSecurityHeaders();
// Explicit, so that the headers above are on the 401s and 403s these answer too.
app.UseAuthentication();
app.UseAuthorization();
app.MapDefaultEndpoints();
app.MapAuthApi();
app.MapApiKeysApi();
app.MapAdminUsersApi();
app.MapAuditApi();
app.MapConversationsApi();
app.MapChatApi();
app.MapPromptsApi();
app.MapUsageApi();
app.MapJobsApi();
app.MapMemoriesApi();
app.MapDocumentsApi();

app.Run();
