using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Mvc;

namespace AspireAi.Api.Auth;

/// <summary>
/// The schemes behind <see cref="AspireAiPolicies.BearerScheme"/>, which picks one per request from the credential,
/// and the 401/403 answers they share, so a caller cannot tell from the response which scheme refused it.
/// </summary>
internal static class BearerSchemes
{
    /// <summary>Access tokens (JWTs), validated by JwtBearer.</summary>
    public const string AccessToken = "AccessToken";

    /// <summary>API keys (<c>aai_...</c>).</summary>
    public const string ApiKey = "ApiKey";

    private const string BearerPrefix = "Bearer ";

    /// <summary>The credential of <c>Authorization: Bearer &lt;credential&gt;</c>, or null without one.</summary>
    public static string? Credential(HttpRequest request)
    {
        var authorization = request.Headers.Authorization.ToString();
        return authorization.StartsWith(BearerPrefix, StringComparison.OrdinalIgnoreCase)
            ? authorization[BearerPrefix.Length..].Trim()
            : null;
    }

    /// <summary>API keys go to their own scheme; everything else, no credential included, to JwtBearer.</summary>
    public static string Select(HttpContext context) =>
        Credential(context.Request) is { } credential && ApiKeyService.IsApiKey(credential) ? ApiKey : AccessToken;

    /// <summary>The 401: ProblemDetails and an RFC 6750 challenge that says when the credential sent was the problem.</summary>
    public static Task ChallengeAsync(HttpContext context, bool invalidCredential)
    {
        context.Response.StatusCode = StatusCodes.Status401Unauthorized;
        context.Response.Headers.WWWAuthenticate = invalidCredential ? "Bearer error=\"invalid_token\"" : "Bearer";
        return WriteProblemAsync(context, new ProblemDetails
        {
            Status = StatusCodes.Status401Unauthorized,
            Title = "Unauthorized",
            Detail = invalidCredential
                ? "The access token or API key is invalid, expired or revoked."
                : "Send an access token or API key as 'Authorization: Bearer <credential>'.",
        });
    }

    /// <summary>The 403 of an authenticated caller that a policy refuses.</summary>
    public static Task ForbidAsync(HttpContext context)
    {
        context.Response.StatusCode = StatusCodes.Status403Forbidden;
        return WriteProblemAsync(context, new ProblemDetails
        {
            Status = StatusCodes.Status403Forbidden,
            Title = "Forbidden",
            Detail = "You do not have permission to perform this action.",
        });
    }

    private static async Task WriteProblemAsync(HttpContext context, ProblemDetails problem) =>
        await context.RequestServices.GetRequiredService<IProblemDetailsService>()
            .WriteAsync(new ProblemDetailsContext { HttpContext = context, ProblemDetails = problem });
}
