namespace AspireAi.Web.Http;

// A message carried across one post/redirect/get: a cookie the next page under `path` reads once and deletes, so a
// reload does not show it again and the address stays clean. Short-lived, script-proof, same-site only.
internal static class FlashCookies
{
    public static CookieOptions Options(HttpContext context, string path) => new()
    {
        Path = $"{context.Request.PathBase}{path}",
        HttpOnly = true,
        SameSite = SameSiteMode.Strict,
        Secure = context.Request.IsHttps,
        MaxAge = TimeSpan.FromMinutes(1),
        IsEssential = true,
    };
}
