namespace AspireAi.Core.Identity;

/// <summary>
/// Claim types carried by every authenticated principal, whether it signed in with an access token or an API key.
/// They are the JWT claim names, so a token's payload and the principal read the same.
/// </summary>
public static class AspireAiClaims
{
    /// <summary>The user's id (a uuid).</summary>
    public const string UserId = "sub";

    /// <summary>The id of the user's organisation (a uuid).</summary>
    public const string OrgId = "org";

    /// <summary>The user's role: <see cref="AspireAiRoles.User"/> or <see cref="AspireAiRoles.Admin"/>.</summary>
    public const string Role = "role";

    /// <summary>The user's email address.</summary>
    public const string Email = "email";

    /// <summary>The access token's unique id; present only when the caller used an access token.</summary>
    public const string TokenId = "jti";

    /// <summary>The session (refresh-token family) an access token was issued for; revoking the session revokes it.</summary>
    public const string SessionId = "sid";

    /// <summary>The API key's id; present only when the caller used an API key.</summary>
    public const string ApiKeyId = "api_key_id";
}

/// <summary>The values of <see cref="AspireAiClaims.Role"/> (the <c>users.role</c> column).</summary>
public static class AspireAiRoles
{
    /// <summary>An ordinary user.</summary>
    public const string User = "user";

    /// <summary>An administrator of the user's organisation.</summary>
    public const string Admin = "admin";

    /// <summary>Whether <paramref name="role"/> is one of the known roles.</summary>
    public static bool IsKnown(string? role) => role is User or Admin;
}

/// <summary>Names of the authorization policies and of the authentication scheme the Api registers.</summary>
public static class AspireAiPolicies
{
    /// <summary>
    /// The authentication scheme endpoints and policies name: <c>Authorization: Bearer &lt;access token or API key&gt;</c>,
    /// handed on to the access-token (JwtBearer) or API-key scheme by the credential's form.
    /// </summary>
    public const string BearerScheme = "Bearer";

    /// <summary>Requires an authenticated user with the <see cref="AspireAiRoles.Admin"/> role.</summary>
    public const string Admin = "admin";
}
