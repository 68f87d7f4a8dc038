using AspireAi.Web.Extensions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.AspNetCore.Authorization;
using Microsoft.Extensions.Options;

namespace AspireAi.Web.Account;

internal static class AccountExtensions
{
    public static IHostApplicationBuilder AddWebAuthentication(this IHostApplicationBuilder builder)
    {
        var services = builder.Services;

        services.AddAuthentication(UserSession.Scheme)
            .AddCookie(options =>
            {
                options.Cookie.Name = ".AspireAi.Session";
                options.Cookie.HttpOnly = true;
                options.Cookie.SameSite = SameSiteMode.Lax;
                // Secure whenever the request is HTTPS; the local stack is served over plain HTTP on loopback.
                options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
                options.SlidingExpiration = true;
                options.LoginPath = AccountApi.SignInPath;
                // Signed in but not allowed (a user on an admin page): say so, rather than offer to sign in again.
                options.AccessDeniedPath = AccountApi.AccessDeniedPath;
                options.ReturnUrlParameter = "returnUrl";
                options.Events = new CookieAuthenticationEvents
                {
                    OnValidatePrincipal = ValidatePrincipalAsync,
                    OnRedirectToLogin = context => RedirectOrStatusAsync(context, StatusCodes.Status401Unauthorized),
                    OnRedirectToAccessDenied = context => RedirectOrStatusAsync(context, StatusCodes.Status403Forbidden),
                };
            });
        services.AddOptions<CookieAuthenticationOptions>(UserSession.Scheme)
            .Configure<IOptions<WebOptions>>((cookie, web) => cookie.ExpireTimeSpan = web.Value.SessionLifetime);

        // Everything needs a signed-in user unless it says otherwise (the sign-in page, static assets, health).
        services.AddAuthorizationBuilder()
            .SetFallbackPolicy(new AuthorizationPolicyBuilder().RequireAuthenticatedUser().Build());
        services.AddCascadingAuthenticationState();

        services.AddHttpContextAccessor();
        services.AddSingleton<TokenRefresher>();
        services.AddSingleton<UserSession>();
        services.AddTransient<ApiBearerTokenHandler>();

        return builder;
    }

    // A cookie without usable Api tokens (from an older version, or past its refresh token's lifetime) is no session.
    private static async Task ValidatePrincipalAsync(CookieValidatePrincipalContext context)
    {
        var tokens = UserTokens.From(context.Properties);
        var now = context.HttpContext.RequestServices.GetRequiredService<TimeProvider>().GetUtcNow();
        if (tokens is null || tokens.RefreshTokenExpired(now))
        {
            context.RejectPrincipal();
            await context.HttpContext.SignOutAsync(UserSession.Scheme);
        }
    }

    // Pages redirect to the sign-in page; Web's script endpoints (/app/...) answer with a status instead,
    // which chat.js turns into a "sign in again" message.
    private static Task RedirectOrStatusAsync(RedirectContext<CookieAuthenticationOptions> context, int status)
    {
        if (context.Request.Path.StartsWithSegments("/app", StringComparison.OrdinalIgnoreCase))
        {
            context.Response.StatusCode = status;
            return Task.CompletedTask;
        }

        context.Response.Redirect(context.RedirectUri);
        return Task.CompletedTask;
    }
}
