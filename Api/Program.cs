using AspireAi.Api.ApiKeys;
using AspireAi.Api.Auth;
using AspireAi.Api.Chat;
using AspireAi.Api.Conversations;
using AspireAi.Api.Documents;
using AspireAi.Api.Extensions;
using AspireAi.Api.Jobs;
using AspireAi.Api.Memories;
using AspireAi.Api.Prompts;
using AspireAi.Api.RateLimiting;
using AspireAi.Api.Usage;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseForwardedHeaders();
app.UseRateLimits();
app.MapDefaultEndpoints();
app.MapAuthApi().WithRateLimitClass(RateLimitClass.Auth);
app.MapApiKeysApi();
app.MapAdminUsersApi().WithRateLimitClass(RateLimitClass.Admin);
app.MapConversationsApi();
app.MapChatApi().WithRateLimitClass(RateLimitClass.Chat);
app.MapPromptsApi().WithRateLimitClass(RateLimitClass.Admin);
app.MapUsageApi();
app.MapJobsApi().WithRateLimitClass(RateLimitClass.Admin);
app.MapMemoriesApi().WithRateLimitClassForWrites(RateLimitClass.MemoryWrites);
app.MapDocumentsApi().WithRateLimitClass(RateLimitClass.Documents);

app.Run();
