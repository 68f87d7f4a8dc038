using AspireAi.Api.Admission;
using AspireAi.Api.ApiKeys;
using AspireAi.Api.Audit;
using AspireAi.Api.Auth;
using AspireAi.Api.Chat;
using AspireAi.Api.Conversations;
using AspireAi.Api.Documents;
using AspireAi.Api.Encryption;
using AspireAi.Api.Extensions;
using AspireAi.Api.Idempotency;
using AspireAi.Api.Jobs;
using AspireAi.Api.Mcp;
using AspireAi.Api.Memories;
using AspireAi.Api.OpenAiCompat;
using AspireAi.Api.OpenApi;
using AspireAi.Api.Prompts;
using AspireAi.Api.RateLimiting;
using AspireAi.Api.RetrievalQuality;
using AspireAi.Api.Usage;

var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddApplicationServices();

var app = builder.Build();

app.UseTrustedProxies();
app.UseApiSecurityHeaders();
// Explicit, so that the headers above are on the 401s and 403s these answer too, and so that the limits and the
// idempotency keys below know the caller.
app.UseAuthentication();
app.UseRateLimits();
app.UseAuthorization();
app.UseAdmission();
app.UseIdempotencyKeys();
app.MapDefaultEndpoints();
app.MapAuthApi().WithRateLimitClass(RateLimitClass.Auth);
app.MapApiKeysApi().WithIdempotency();
app.MapAdminUsersApi().WithRateLimitClass(RateLimitClass.Admin);
app.MapAuditApi().WithRateLimitClass(RateLimitClass.Admin);
app.MapEncryptionApi().WithRateLimitClass(RateLimitClass.Admin).WithIdempotency();
app.MapConversationsApi().WithIdempotency();
app.MapChatApi().WithRateLimitClass(RateLimitClass.Chat).WithIdempotency();
app.MapFeedbackApi();
app.MapPromptsApi().WithRateLimitClass(RateLimitClass.Admin).WithIdempotency();
app.MapUsageApi();
app.MapRetrievalQualityApi().WithRateLimitClass(RateLimitClass.Admin);
app.MapJobsApi().WithRateLimitClass(RateLimitClass.Admin).WithIdempotency();
app.MapMemoriesApi().WithRateLimitClassForWrites(RateLimitClass.MemoryWrites).WithIdempotency();
app.MapDocumentsApi().WithRateLimitClassForWrites(RateLimitClass.Documents).WithIdempotency();
app.MapOpenAiCompatApi().WithRateLimitClass(RateLimitClass.Chat);
app.MapMcpServer();
app.MapApiDocumentation();

app.Run();
