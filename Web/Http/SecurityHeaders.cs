using Microsoft.AspNetCore.CookiePolicy;

namespace AspireAi.Web.Http;

internal static class SecurityHeaders
{
    // Defence in depth for a page that shows model output: even if something slipped past MarkdownRenderer,
    // the browser runs only this site's own script files (no inline script, no other origin; Blazor's script is a
    // file, so no nonce is needed), loads nothing from elsewhere, and the page cannot be framed.
    private static readonly HeaderPolicyCollection Policy = new HeaderPolicyCollection()
        .AddContentSecurityPolicy(csp =>
        {
            csp.AddDefaultSrc().Self();
            csp.AddScriptSrc().Self();
            csp.AddStyleSrc().Self();
            csp.AddImgSrc().Self().Data();
            csp.AddConnectSrc().Self();
            csp.AddObjectSrc().None();
            csp.AddBaseUri().Self();
            csp.AddFormAction().Self();
            csp.AddFrameAncestors().None();
        })
        .AddContentTypeOptionsNoSniff()
        .AddReferrerPolicySameOrigin()
        // For browsers that predate frame-ancestors.
        .AddFrameOptionsDeny()
        .AddCrossOriginOpenerPolicy(coop => coop.SameOrigin());

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

    /// <summary>The cookie policy above and the browser headers (NetEscapades.AspNetCore.SecurityHeaders).</summary>
    public static IApplicationBuilder UseBrowserSecurity(this IApplicationBuilder app)
    {
        app.UseCookiePolicy();
        return app.UseSecurityHeaders(Policy);
    }
}
