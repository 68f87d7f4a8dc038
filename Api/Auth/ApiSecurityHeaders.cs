namespace AspireAi.Api.Auth;

/// <summary>
/// The part of the browser headers that fits an API: it serves JSON and event streams, never pages, so nothing in
/// a response may run, load or be framed (a response opened in a browser tab stays inert), MIME types are not
/// guessed, and no address leaks to another site in a Referer. Cookies: the Api sets none.
/// </summary>
internal static class ApiSecurityHeaders
{
    private const string ContentSecurityPolicy = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'; form-action 'none'";

    public static IApplicationBuilder UseApiSecurityHeaders(this IApplicationBuilder app) =>
        app.Use((context, next) =>
        {
            var headers = context.Response.Headers;
            headers.ContentSecurityPolicy = ContentSecurityPolicy;
            headers.XContentTypeOptions = "nosniff";
            headers["Referrer-Policy"] = "no-referrer";
            headers.XFrameOptions = "DENY";
            return next(context);
        });
}
