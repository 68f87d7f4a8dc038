using System.Globalization;
using AspireAi.Web.ApiClients;
using Microsoft.AspNetCore.Authentication;

namespace AspireAi.Web.Account;

// The user's Api tokens. They live only in the properties of the auth cookie, which ASP.NET Core encrypts
// with Data Protection and marks HttpOnly: the browser's scripts never see them.
internal sealed record UserTokens(
    string AccessToken,
    string RefreshToken,
    DateTimeOffset AccessTokenExpiresAt,
    DateTimeOffset RefreshTokenExpiresAt)
{
    private const string AccessTokenName = "access_token";
    private const string RefreshTokenName = "refresh_token";
    private const string ExpiresAtName = "expires_at";
    private const string RefreshExpiresAtName = "refresh_expires_at";

    public static UserTokens From(TokenResponse response, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(response);
        return new UserTokens(
            response.AccessToken,
            response.RefreshToken,
            now.AddSeconds(response.ExpiresIn),
            now.AddSeconds(response.RefreshExpiresIn));
    }

    public static UserTokens? From(AuthenticationProperties? properties)
    {
        if (properties?.GetTokenValue(AccessTokenName) is not { Length: > 0 } accessToken
            || properties.GetTokenValue(RefreshTokenName) is not { Length: > 0 } refreshToken
            || !TryParse(properties.GetTokenValue(ExpiresAtName), out var expiresAt)
            || !TryParse(properties.GetTokenValue(RefreshExpiresAtName), out var refreshExpiresAt))
        {
            return null;
        }

        return new UserTokens(accessToken, refreshToken, expiresAt, refreshExpiresAt);
    }

    public void WriteTo(AuthenticationProperties properties)
    {
        ArgumentNullException.ThrowIfNull(properties);
        properties.StoreTokens(
        [
            new AuthenticationToken { Name = AccessTokenName, Value = AccessToken },
            new AuthenticationToken { Name = RefreshTokenName, Value = RefreshToken },
            new AuthenticationToken { Name = ExpiresAtName, Value = AccessTokenExpiresAt.ToString("o", CultureInfo.InvariantCulture) },
            new AuthenticationToken { Name = RefreshExpiresAtName, Value = RefreshTokenExpiresAt.ToString("o", CultureInfo.InvariantCulture) },
        ]);
    }

    // The margin refreshes a little early, so a token does not expire between this check and the Api's.
    public bool AccessTokenExpired(DateTimeOffset now, TimeSpan margin) => AccessTokenExpiresAt - margin <= now;

    public bool RefreshTokenExpired(DateTimeOffset now) => RefreshTokenExpiresAt <= now;

    // Records print their members; these must never reach a log.
    public override string ToString() =>
        $"UserTokens {{ AccessTokenExpiresAt = {AccessTokenExpiresAt:o}, RefreshTokenExpiresAt = {RefreshTokenExpiresAt:o} }}";

    private static bool TryParse(string? value, out DateTimeOffset result) =>
        DateTimeOffset.TryParse(value, CultureInfo.InvariantCulture, DateTimeStyles.RoundtripKind, out result);
}
