namespace AspireAi.Web.Http;

internal static class SecurityHeaders
{
    // Defence in depth for a page that shows model output: even if something slipped past MarkdownRenderer,
    // the browser runs only this site's own script files (no inline script, no other origin), loads nothing
    // from elsewhere, and the page cannot be framed.
    private const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
        "object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

    public static IApplicationBuilder UseSecurityHeaders(this IApplicationBuilder app) =>
        app.Use(async (context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "same-origin";
            await next(context);
        });
}
