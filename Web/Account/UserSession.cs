using System.Security.Claims;
using AspireAi.Web.Extensions;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Authentication.Cookies;
using Microsoft.Extensions.Options;

namespace AspireAi.Web.Account;

// The signed-in user's session: the auth cookie and the Api tokens inside it. Everything that reads or
// changes those tokens goes through here, so a refresh during a request is seen by the rest of that request
// and written back to the browser.
internal sealed partial class UserSession(
    TokenRefresher refresher,
    IOptions<WebOptions> options,
    TimeProvider time,
    ILogger<UserSession> logger)
{
    public const string Scheme = CookieAuthenticationDefaults.AuthenticationScheme;

    // The cookie was read once at the start of the request; after a refresh (or sign-out) it is stale, so
    // the current state of this request is kept here.
    private static readonly object CurrentKey = new();

    public static async Task SignInAsync(HttpContext context, string email, string role, UserTokens tokens)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(tokens);

        var identity = new ClaimsIdentity(
            [
                // The Api's tokens may be opaque, so the email the user signed in with identifies them here.
                new Claim(ClaimTypes.NameIdentifier, email.Trim().ToUpperInvariant()),
                new Claim(ClaimTypes.Name, email.Trim()),
                // Only decides which pages Web offers; the Api checks the role of every call itself.
                new Claim(ClaimTypes.Role, role),
            ],
            Scheme);
        var properties = new AuthenticationProperties();
        tokens.WriteTo(properties);

        await context.SignInAsync(Scheme, new ClaimsPrincipal(identity), properties).ConfigureAwait(false);
        context.Items[CurrentKey] = new Current(tokens);
    }

    public async Task SignOutAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        context.Items[CurrentKey] = new Current(null);
        if (context.Response.HasStarted)
        {
            LogCookieNotWritten("sign-out");
            return;
        }

        await context.SignOutAsync(Scheme).ConfigureAwait(false);
    }

    public static async Task<UserTokens?> GetTokensAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);

        if (context.Items.TryGetValue(CurrentKey, out var item) && item is Current current)
        {
            return current.Tokens;
        }

        var result = await context.AuthenticateAsync(Scheme).ConfigureAwait(false);
        return result.Succeeded ? UserTokens.From(result.Properties) : null;
    }

    // The tokens to call the Api with: refreshed first when the access token has (nearly) expired.
    public async Task<(UserTokens? Tokens, bool Refreshed)> GetCurrentTokensAsync(HttpContext context, CancellationToken cancellationToken)
    {
        var tokens = await GetTokensAsync(context).ConfigureAwait(false);
        if (tokens is null || !tokens.AccessTokenExpired(time.GetUtcNow(), options.Value.AccessTokenRefreshMargin))
        {
            return (tokens, false);
        }

        return (await RefreshAsync(context, tokens, cancellationToken).ConfigureAwait(false), true);
    }

    // Null when the session is over (the refresh token was refused); the cookie is then cleared.
    public async Task<UserTokens?> RefreshAsync(HttpContext context, UserTokens stale, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);

        var userKey = context.User.FindFirstValue(ClaimTypes.NameIdentifier) ?? string.Empty;
        var fresh = await refresher.RefreshAsync(userKey, stale, cancellationToken).ConfigureAwait(false);
        if (fresh is null)
        {
            await SignOutAsync(context).ConfigureAwait(false);
            return null;
        }

        context.Items[CurrentKey] = new Current(fresh);
        await ReissueCookieAsync(context, fresh).ConfigureAwait(false);
        return fresh;
    }

    // Writes the rotated tokens back to the browser. Every Api call of a request happens before its
    // response starts (pages render fully before they are sent, the chat proxy calls before it streams);
    // should one not, the next request finds the old refresh token in the refresher's grace memory.
    private async Task ReissueCookieAsync(HttpContext context, UserTokens tokens)
    {
        if (context.Response.HasStarted)
        {
            // An interactive circuit's connection: its response started long ago. The page renews the cookie through
            // RenewPath while the refresher still remembers this rotation (see CookieIsStale).
            context.Items[CurrentKey] = new Current(tokens, CookieStale: true);
            LogCookieNotWritten("token refresh");
            return;
        }

        var result = await context.AuthenticateAsync(Scheme).ConfigureAwait(false);
        if (!result.Succeeded || result.Properties is null)
        {
            return;
        }

        var properties = result.Properties;
        tokens.WriteTo(properties);
        // Activity renews the session like sliding expiration would: a new window from now.
        properties.IssuedUtc = null;
        properties.ExpiresUtc = null;
        await context.SignInAsync(Scheme, result.Principal, properties).ConfigureAwait(false);
    }

    /// <summary>True when tokens were refreshed on a connection that could not write the cookie (a Blazor circuit): the
    /// browser's cookie still holds the spent refresh token until a request renews it.</summary>
    public static bool CookieIsStale(HttpContext context) =>
        context is not null && context.Items.TryGetValue(CurrentKey, out var item) && item is Current { CookieStale: true };

    public static void CookieRenewed(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (context.Items.TryGetValue(CurrentKey, out var item) && item is Current current)
        {
            context.Items[CurrentKey] = current with { CookieStale = false };
        }
    }

    private sealed record Current(UserTokens? Tokens, bool CookieStale = false);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not update the session cookie after {Operation}: the response had already started")]
    private partial void LogCookieNotWritten(string operation);
}
