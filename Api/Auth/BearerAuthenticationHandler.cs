using System.Security.Claims;
using System.Text.Encodings.Web;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Mvc;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Auth;

/// <summary>
/// The one authentication scheme: <c>Authorization: Bearer &lt;credential&gt;</c>, where the credential is either an
/// access token (a JWT we signed) or an API key (<c>aai_...</c>). Both produce the same claims
/// (<see cref="AspireAiClaims"/>), so endpoints do not care which one the caller used.
/// </summary>
internal sealed partial class BearerAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    IAccessTokenService accessTokens,
    ApiKeyService apiKeys,
    SessionRevocations revocations,
    IProblemDetailsService problemDetails)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    private const string BearerPrefix = "Bearer ";

    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        var authorization = Request.Headers.Authorization.ToString();
        if (!authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase))
        {
            // No credential, or another scheme: anonymous, and the challenge explains what is expected.
            return AuthenticateResult.NoResult();
        }
        var credential = authorization[BearerPrefix.Length..].Trim();
        if (credential.Length == 0)
        {
            return AuthenticateResult.Fail("empty bearer credential");
        }

        ClaimsPrincipal principal;
        if (ApiKeyService.IsApiKey(credential))
        {
            if (await apiKeys.AuthenticateAsync(credential, Context.RequestAborted) is not { } key)
            {
                return AuthenticateResult.Fail("invalid API key");
            }
            principal = key.User.ToClaimsPrincipal(Scheme.Name, new Claim(AspireAiClaims.ApiKeyId, key.KeyId.ToString()));
        }
        else
        {
            var token = accessTokens.Validate(credential);
            if (!token.IsValid)
            {
                LogTokenRefused(Logger, token.Error);
                return AuthenticateResult.Fail("invalid access token");
            }
            if (token.SessionId is { } session && await revocations.IsRevokedAsync(session, Context.RequestAborted))
            {
                LogTokenRefused(Logger, "session revoked");
                return AuthenticateResult.Fail("revoked access token");
            }
            principal = token.User!.ToClaimsPrincipal(Scheme.Name, new Claim(AspireAiClaims.TokenId, token.TokenId!));
        }
        return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        var invalid = result.Failure is not null;
        Response.StatusCode = StatusCodes.Status401Unauthorized;
        // RFC 6750 §3: name the scheme, and say when the credential sent was the problem.
        Response.Headers.WWWAuthenticate = invalid ? "Bearer error=\"invalid_token\"" : "Bearer";
        await WriteProblemAsync(new ProblemDetails
        {
            Status = StatusCodes.Status401Unauthorized,
            Title = "Unauthorized",
            Detail = invalid
                ? "The access token or API key is invalid, expired or revoked."
                : "Send an access token or API key as 'Authorization: Bearer <credential>'.",
        });
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties)
    {
        Response.StatusCode = StatusCodes.Status403Forbidden;
        return WriteProblemAsync(new ProblemDetails
        {
            Status = StatusCodes.Status403Forbidden,
            Title = "Forbidden",
            Detail = "You do not have permission to perform this action.",
        });
    }

    private async Task WriteProblemAsync(ProblemDetails problem) =>
        await problemDetails.WriteAsync(new ProblemDetailsContext { HttpContext = Context, ProblemDetails = problem });

    [LoggerMessage(Level = LogLevel.Debug, Message = "Access token refused: {Reason}")]
    private static partial void LogTokenRefused(ILogger logger, string? reason);
}
