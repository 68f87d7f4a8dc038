using AspireAi.Web.ApiClients;
using AspireAi.Web.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Web.Account;

internal static partial class AccountApi
{
    public const string SignInPath = "/signin";
    public const string AccessDeniedPath = "/denied";
    public const string SignOutPath = "/app/account/signout";
    public const string RenewPath = "/app/account/renew";

    public static RouteGroupBuilder MapAccountApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/app/account")
            .AddEndpointFilter<AntiforgeryValidationFilter>();

        // Anonymous: signing out of an expired session still clears the cookie and lands on the sign-in page.
        group.MapPost("/signout", SignOutAsync).AllowAnonymous();
        group.MapPost("/renew", RenewAsync);

        return group;
    }

    private static async Task<RedirectHttpResult> SignOutAsync(
        HttpContext context, UserSession session, ApiAuthClient auth, ILoggerFactory loggerFactory)
    {
        var logger = loggerFactory.CreateLogger(typeof(AccountApi).FullName!);
        try
        {
            // Revokes the refresh token on the Api, so the session cannot be revived from a copied cookie.
            var (tokens, _) = await session.GetCurrentTokensAsync(context, context.RequestAborted);
            if (tokens is not null)
            {
                await auth.LogoutAsync(tokens.AccessToken, tokens.RefreshToken, context.RequestAborted);
            }
        }
        catch (Exception ex) when (ApiFailure.Describe(ex) is not null)
        {
            // The local session ends regardless; the refresh token then simply runs out.
            LogLogoutFailed(logger, ex.GetType().Name);
        }

        await session.SignOutAsync(context);
        return TypedResults.LocalRedirect(SignInPath);
    }

    // Called by an interactive page after its circuit refreshed the Api tokens: this request carries the old cookie,
    // whose refresh is answered from the refresher's memory of that rotation, and writes the new tokens back.
    private static async Task<Results<NoContent, UnauthorizedHttpResult>> RenewAsync(HttpContext context, UserSession session)
    {
        var (tokens, _) = await session.GetCurrentTokensAsync(context, context.RequestAborted);
        return tokens is null ? TypedResults.Unauthorized() : TypedResults.NoContent();
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not revoke the session on the Api ({Error}); signing out locally")]
    private static partial void LogLogoutFailed(ILogger logger, string error);
}
