using System.Diagnostics.CodeAnalysis;
using System.Security.Claims;
using Microsoft.AspNetCore.Http;

namespace AspireAi.Core.Identity;

/// <summary>Who is calling: the identity every endpoint scopes its data by.</summary>
/// <param name="UserId">The user's id.</param>
/// <param name="OrgId">The user's organisation.</param>
/// <param name="Role"><see cref="AspireAiRoles.User"/> or <see cref="AspireAiRoles.Admin"/>.</param>
/// <param name="Email">The user's email address.</param>
public sealed record CurrentUser(Guid UserId, Guid OrgId, string Role, string Email)
{
    /// <summary>Whether the user is an administrator of <see cref="OrgId"/>.</summary>
    public bool IsAdmin => Role == AspireAiRoles.Admin;

    /// <summary>
    /// Lets a minimal-API handler take the caller as a parameter. Only for endpoints that require authorization:
    /// on an anonymous request it throws, as <see cref="ClaimsPrincipalExtensions.GetCurrentUser"/> does.
    /// </summary>
    public static ValueTask<CurrentUser?> BindAsync(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        return ValueTask.FromResult<CurrentUser?>(context.User.GetCurrentUser());
    }

    /// <summary>
    /// A principal carrying this user's claims (see <see cref="AspireAiClaims"/>), authenticated with
    /// <paramref name="authenticationType"/>; <paramref name="extraClaims"/> are added as given.
    /// </summary>
    public ClaimsPrincipal ToClaimsPrincipal(string authenticationType, params IEnumerable<Claim> extraClaims)
    {
        ArgumentException.ThrowIfNullOrEmpty(authenticationType);
        ArgumentNullException.ThrowIfNull(extraClaims);
        Claim[] claims =
        [
            new(AspireAiClaims.UserId, UserId.ToString()),
            new(AspireAiClaims.OrgId, OrgId.ToString()),
            new(AspireAiClaims.Role, Role),
            new(AspireAiClaims.Email, Email),
            .. extraClaims,
        ];
        // Name and role claim types are ours, so IsInRole and RequireRole read the "role" claim.
        return new ClaimsPrincipal(new ClaimsIdentity(claims, authenticationType, AspireAiClaims.Email, AspireAiClaims.Role));
    }
}

/// <summary>Reads the <see cref="CurrentUser"/> from the principal the Api's authentication produced.</summary>
public static class ClaimsPrincipalExtensions
{
    /// <summary>The caller, for endpoints that require authorization.</summary>
    /// <exception cref="InvalidOperationException">The principal is not authenticated or lacks the claims; an
    /// endpoint calling this is missing <c>RequireAuthorization()</c>.</exception>
    public static CurrentUser GetCurrentUser(this ClaimsPrincipal principal) =>
        principal.TryGetCurrentUser(out var user)
            ? user
            : throw new InvalidOperationException(
                "The request is not authenticated. Endpoints that read the current user must require authorization.");

    /// <summary>The caller, or false when the principal is anonymous or lacks the claims.</summary>
    public static bool TryGetCurrentUser(this ClaimsPrincipal principal, [NotNullWhen(true)] out CurrentUser? user)
    {
        ArgumentNullException.ThrowIfNull(principal);
        user = null;
        if (principal.Identity?.IsAuthenticated != true
            || !Guid.TryParse(principal.FindFirstValue(AspireAiClaims.UserId), out var userId)
            || !Guid.TryParse(principal.FindFirstValue(AspireAiClaims.OrgId), out var orgId)
            || principal.FindFirstValue(AspireAiClaims.Role) is not { } role
            || principal.FindFirstValue(AspireAiClaims.Email) is not { } email)
        {
            return false;
        }
        user = new CurrentUser(userId, orgId, role, email);
        return true;
    }
}
