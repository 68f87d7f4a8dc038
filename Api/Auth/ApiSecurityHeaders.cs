namespace AspireAi.Api.Auth;

/// <summary>
/// The part of the browser headers that fits an API: it serves JSON and event streams, never pages, so nothing in
/// a response may run, load or be framed (a response opened in a browser tab stays inert), MIME types are not
/// guessed, and no address leaks to another site in a Referer. Cookies: the Api sets none.
/// </summary>
internal static class ApiSecurityHeaders
{
    private static readonly HeaderPolicyCollection Policy = new HeaderPolicyCollection()
        .AddContentSecurityPolicy(csp =>
        {
            csp.AddDefaultSrc().None();
            csp.AddFrameAncestors().None();
            csp.AddBaseUri().None();
            csp.AddFormAction().None();
        })
        .AddContentTypeOptionsNoSniff()
        .AddReferrerPolicyNoReferrer()
        .AddFrameOptionsDeny();

    public static IApplicationBuilder UseApiSecurityHeaders(this IApplicationBuilder app) => app.UseSecurityHeaders(Policy);
}
