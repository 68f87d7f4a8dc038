using System.ComponentModel.DataAnnotations;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Auth;

internal static class AdminUsersApi
{
    private const int DefaultPageSize = 50;

    public static RouteGroupBuilder MapAdminUsersApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/users")
            .WithTags("Admin")
            .RequireAuthorization(AspireAiPolicies.Admin)
            .RequireScope(ApiKeyScopes.Admin);

        group.MapGet("/", ListUsersAsync);

        return group;
    }

    /// <summary>The admin's organisation's users in creation order, keyset-paginated by id.</summary>
    internal static async Task<Ok<AdminUserPage>> ListUsersAsync(
        Guid? after, [Range(1, 100)] int? limit, UserAccounts accounts, HttpContext context, CancellationToken cancellationToken)
    {
        var pageSize = limit ?? DefaultPageSize;
        var admin = context.User.GetCurrentUser();
        // One extra row tells whether another page follows without a count query.
        var users = await accounts.ListAsync(admin.OrgId, after, pageSize + 1, cancellationToken);
        var page = users.Take(pageSize)
            .Select(u => new AdminUserResponse(u.Id, u.OrgId, u.Email, u.DisplayName, u.Role, u.CreatedAt, u.DisabledAt))
            .ToList();
        return TypedResults.Ok(new AdminUserPage(page, users.Count > pageSize ? page[^1].Id : null));
    }
}
