using Microsoft.AspNetCore.CookiePolicy;

namespace AspireAi.Web.Http;

internal static class SecurityHeaders
{
    // Defence in depth for a page that shows model output: even if something slipped past MarkdownRenderer,
    // the browser runs only this site's own script files (no inline script, no other origin), loads nothing
    // from elsewhere, and the page cannot be framed.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    /// <summary>
    /// Every cookie Web sets (session, antiforgery, flash messages) is HttpOnly, at least SameSite=Lax, and Secure
    /// whenever the page was served over HTTPS; the antiforgery cookie's own default would leave Secure off.
    /// </summary>
    public static IServiceCollection AddBrowserSecurity(this IServiceCollection services)
    {
        services.Configure<CookiePolicyOptions>(options =>
        {
            options.Secure = CookieSecurePolicy.SameAsRequest;
            options.HttpOnly = HttpOnlyPolicy.Always;
            options.MinimumSameSitePolicy = SameSiteMode.Lax;
        });
        services.PostConfigure<Microsoft.AspNetCore.Antiforgery.AntiforgeryOptions>(options =>
        {
            options.Cookie.SecurePolicy = CookieSecurePolicy.SameAsRequest;
            options.Cookie.SameSite = SameSiteMode.Strict;
        });
        return services;
    }

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app)
    {
        app.UseCookiePolicy();
        return app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "same-origin";
            // For browsers that predate frame-ancestors.
            headers.XFrameOptions = "DENY";
            headers["Cross-Origin-Opener-Policy"] = "same-origin";
            await next(context);
        });
    }
}
