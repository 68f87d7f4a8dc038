using AspireAi.Api.Auth;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspireAi.Api.Extensions;

internal static class AuthExtensions
{
    /// <summary>
    /// Sign-in (access and refresh tokens, API keys), the Bearer authentication scheme and the authorization policies.
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
        services.AddSingleton<IAccessTokenService, HmacAccessTokenService>();
        services.AddSingleton<UserAccounts>();
        services.AddSingleton<LoginThrottle>();
        services.AddSingleton<SessionRevocations>();
        services.AddSingleton<SessionService>();
        services.AddSingleton<ApiKeyService>();

        services.AddAuthentication(AspireAiPolicies.BearerScheme)
            .AddScheme<AuthenticationSchemeOptions, BearerAuthenticationHandler>(AspireAiPolicies.BearerScheme, configureOptions: null);

        var authenticated = new AuthorizationPolicyBuilder(AspireAiPolicies.BearerScheme).RequireAuthenticatedUser().Build();
        services.AddAuthorizationBuilder()
            .SetDefaultPolicy(authenticated)
            // Secure by default: an endpoint that forgets RequireAuthorization() is still closed to anonymous callers.
            .SetFallbackPolicy(authenticated)
            .AddPolicy(AspireAiPolicies.Admin, policy => policy
                .AddAuthenticationSchemes(AspireAiPolicies.BearerScheme)
                .RequireAuthenticatedUser()
                .RequireRole(AspireAiRoles.Admin));
        return builder;
    }
}
