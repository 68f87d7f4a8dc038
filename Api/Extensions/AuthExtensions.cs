using AspireAi.Api.Auth;
using AspireAi.Core.Audit;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using AspireAi.ServiceDefaults;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.JwtBearer;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Extensions;

internal static class AuthExtensions
{
    /// <summary>
    /// Sign-in (access and refresh tokens, API keys), the Bearer authentication scheme and the authorization policies.
    /// "Bearer" is a policy scheme: API keys go to their own handler, access tokens to JwtBearer.
    /// Every endpoint requires an authenticated caller unless it says AllowAnonymous. Request validation (the 400s
    /// for the auth DTOs) comes from the app-wide AddValidation() in Extensions.cs.
    /// </summary>
    public static IHostApplicationBuilder AddAuth(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;

        services.AddOptions<AuthOptions>()
            .BindConfiguration(AuthOptions.SectionName)
            .PostConfigure<IHostEnvironment>((options, environment) => options.AllowRegistration ??= environment.IsDevelopment())
            .ValidateDataAnnotations()
            .ValidateOnStart();

        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<AccessTokenIssuer>();
        services.AddSingleton<UserAccounts>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<SessionRevocations>();
        services.AddSingleton<SessionService>();
        services.AddSingleton<ApiKeyService>();

        services.AddSingleton<AccessTokenEvents>();
        services.AddAuthentication(AspireAiPolicies.BearerScheme)
            .AddPolicyScheme(AspireAiPolicies.BearerScheme, displayName: null, options => options.ForwardDefaultSelector = BearerSchemes.Select)
            .AddJwtBearer(BearerSchemes.AccessToken, options =>
            {
                // Claim names stay as issued ("sub", "role", "sid"), which is what AspireAiClaims and the policies read.
                options.MapInboundClaims = false;
                options.EventsType = typeof(AccessTokenEvents);
            })
            .AddScheme<AuthenticationSchemeOptions, ApiKeyAuthenticationHandler>(BearerSchemes.ApiKey, configureOptions: null);
        services.AddOptions<JwtBearerOptions>(BearerSchemes.AccessToken)
            .Configure<IOptions<AuthOptions>>((jwt, auth) => jwt.TokenValidationParameters = AccessTokenIssuer.CreateValidationParameters(auth.Value));

        var authenticated = new AuthorizationPolicyBuilder(AspireAiPolicies.BearerScheme).RequireAuthenticatedUser().Build();
        services.AddAuthorizationBuilder()
            .SetDefaultPolicy(authenticated)
            // Secure by default: an endpoint that forgets RequireAuthorization() is still closed to anonymous callers.
            .SetFallbackPolicy(authenticated)
            .AddPolicy(AspireAiPolicies.Admin, policy => policy
                .AddAuthenticationSchemes(AspireAiPolicies.BearerScheme)
                .RequireAuthenticatedUser()
                .RequireRole(AspireAiRoles.Admin))
            // Which dependencies the Api has and how they answer: administrators only.
            .AddPolicy(HealthEndpoints.DetailsPolicy, policy => policy
                .AddAuthenticationSchemes(AspireAiPolicies.BearerScheme)
                .RequireAuthenticatedUser()
                .RequireRole(AspireAiRoles.Admin));
        services.AddApiKeyScopes();
        services.AddSingleton<AuditLog>();
        return builder;
    }
}
