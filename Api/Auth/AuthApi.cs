using System.Globalization;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Auth;

internal static class AuthApi
{
    public static RouteGroupBuilder MapAuthApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/auth")
            .WithTags("Auth")
            .RequireAuthorization();

        // Signing up and signing in are what an anonymous caller does to stop being one.
        group.MapPost("/register", RegisterAsync).AllowAnonymous();
        group.MapPost("/token", TokenAsync).AllowAnonymous();
        group.MapPost("/refresh", RefreshAsync).AllowAnonymous();
        group.MapPost("/logout", LogoutAsync);
        group.MapGet("/me", GetMe);

        return group;
    }

    // A new address and one that already has an account get the same answer (202, same body; both hash the password
    // and write one audit row, so they take about as long): a 409 would tell an attacker whom to target. The owner
    // of a taken address is not harmed: nothing about the existing account changes, and signing in with its own
    // password keeps working. Someone who really is new signs in next with the password just chosen.
    internal static async Task<Results<Accepted<RegisterResponse>, ProblemHttpResult>> RegisterAsync(
        RegisterRequest request, UserAccounts accounts, HttpContext context, CancellationToken cancellationToken)
    {
        var (status, _) = await accounts.RegisterAsync(request.Email, request.Password, request.DisplayName,
            context.GetClientInfo(), cancellationToken);
        return status switch
        {
            RegistrationStatus.Disabled => TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden,
                title: "Registration is disabled.", detail: "Ask an administrator to create an account for you."),
            _ => TypedResults.Accepted((string?)null, new RegisterResponse(request.Email.Trim(),
                "Registration received. Sign in with this email address and the password you chose; if the address already had an account, its own password still applies.")),
        };
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> TokenAsync(
        TokenRequest request, SessionService sessions, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        var result = await sessions.LoginAsync(request.Email, request.Password, context.GetClientInfo(), cancellationToken);
        switch (result.Status)
        {
            case LoginStatus.Succeeded:
                return TypedResults.Ok(ToResponse(result.Tokens!, time, context));
            case LoginStatus.Throttled:
                var seconds = Math.Max(1, (int)Math.Ceiling(result.RetryAfter.TotalSeconds));
                context.Response.Headers.RetryAfter = seconds.ToString(CultureInfo.InvariantCulture);
                return TypedResults.Problem(statusCode: StatusCodes.Status429TooManyRequests, title: "Too many failed sign-in attempts.",
                    detail: $"Try again in {seconds} seconds.");
            default:
                // One answer for unknown email, wrong password and disabled account: no account enumeration.
                return TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Invalid email or password.");
        }
    }

    internal static async Task<Results<Ok<TokenResponse>, ProblemHttpResult>> RefreshAsync(
        RefreshRequest request, SessionService sessions, TimeProvider time, HttpContext context, CancellationToken cancellationToken)
    {
        var result = await sessions.RefreshAsync(request.RefreshToken, context.GetClientInfo(), cancellationToken);
        return result.Status == RefreshStatus.Succeeded
            ? TypedResults.Ok(ToResponse(result.Tokens!, time, context))
            : TypedResults.Problem(statusCode: StatusCodes.Status401Unauthorized, title: "Invalid refresh token.",
                detail: "Sign in again with your email and password.");
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> LogoutAsync(
        LogoutRequest request, SessionService sessions, HttpContext context, CancellationToken cancellationToken)
    {
        var user = context.User.GetCurrentUser();
        // Someone else's token answers exactly like an unknown one, so tokens cannot be probed for ownership.
        return await sessions.LogoutAsync(user, request.RefreshToken, context.GetClientInfo(), cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "Refresh token not found.");
    }

    // Who the token belongs to: Web reads the role once at sign-in to decide which pages to offer
    // (the Api still checks every admin call itself).
    internal static Ok<MeResponse> GetMe(HttpContext context)
    {
        var user = context.User.GetCurrentUser();
        return TypedResults.Ok(new MeResponse(user.UserId, user.OrgId, user.Email, user.Role));
    }

    private static TokenResponse ToResponse(TokenPair tokens, TimeProvider time, HttpContext context)
    {
        // RFC 6749 §5.1: responses carrying tokens must not be cached.
        context.Response.Headers.CacheControl = "no-store";
        var now = time.GetUtcNow();
        return new TokenResponse(tokens.AccessToken, "Bearer", Seconds(tokens.AccessTokenExpiresAt - now),
            tokens.RefreshToken, Seconds(tokens.RefreshTokenExpiresAt - now));
    }

    private static int Seconds(TimeSpan span) => (int)Math.Max(0, Math.Round(span.TotalSeconds));
}
