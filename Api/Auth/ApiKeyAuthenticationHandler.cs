using System.Security.Claims;
using System.Text.Encodings.Web;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Authentication;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Auth;

/// <summary>
/// <c>Authorization: Bearer aai_...</c>: an API key, looked up (hashed) in Postgres. The principal carries the same
/// claims as an access token's (<see cref="AspireAiClaims"/>), so endpoints and policies do not care which one was used.
/// </summary>
internal sealed class ApiKeyAuthenticationHandler(
    IOptionsMonitor<AuthenticationSchemeOptions> options,
    ILoggerFactory loggerFactory,
    UrlEncoder encoder,
    ApiKeyService apiKeys)
    : AuthenticationHandler<AuthenticationSchemeOptions>(options, loggerFactory, encoder)
{
    protected override async Task<AuthenticateResult> HandleAuthenticateAsync()
    {
        if (BearerSchemes.Credential(Request) is not { } credential || !ApiKeyService.IsApiKey(credential))
        {
            return AuthenticateResult.NoResult();
        }
        if (await apiKeys.AuthenticateAsync(credential, Context.RequestAborted) is not { } key)
        {
            return AuthenticateResult.Fail("invalid API key");
        }
        var principal = key.User.ToClaimsPrincipal(Scheme.Name,
            [new Claim(AspireAiClaims.ApiKeyId, key.KeyId.ToString()), .. key.Scopes.Select(scope => new Claim(ApiKeyScopes.ClaimType, scope))]);
        return AuthenticateResult.Success(new AuthenticationTicket(principal, Scheme.Name));
    }

    protected override async Task HandleChallengeAsync(AuthenticationProperties properties)
    {
        var result = await HandleAuthenticateOnceSafeAsync();
        await BearerSchemes.ChallengeAsync(Context, invalidCredential: result.Failure is not null);
    }

    protected override Task HandleForbiddenAsync(AuthenticationProperties properties) => BearerSchemes.ForbidAsync(Context);
}
