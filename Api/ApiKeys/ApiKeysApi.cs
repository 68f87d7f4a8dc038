using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.ApiKeys;

internal static class ApiKeysApi
{
    public static RouteGroupBuilder MapApiKeysApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/api-keys")
            .WithTags("API keys")
            .RequireAuthorization();

        group.MapPost("/", CreateAsync);
        group.MapGet("/", ListAsync);
        group.MapDelete("/{id:guid}", RevokeAsync);

        return group;
    }

    internal static async Task<Results<Created<CreatedApiKeyResponse>, ValidationProblem, ProblemHttpResult>> CreateAsync(
        CreateApiKeyRequest request, ApiKeyService apiKeys, HttpContext context, CancellationToken cancellationToken)
    {
        var user = context.User.GetCurrentUser();
        if (request.Scopes.FirstOrDefault(scope => !ApiKeyScopes.IsKnown(scope)) is { } unknown)
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["scopes"] = [$"'{unknown}' is not a scope. Scopes: {string.Join(", ", ApiKeyScopes.All)}."],
            });
        }
        // A scope never widens a role, and a key cannot mint a key stronger than itself.
        if (request.Scopes.Contains(ApiKeyScopes.Admin) && user.Role != AspireAiRoles.Admin)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "Only administrators can create admin keys.",
                detail: "The 'admin' scope needs an administrator's account.");
        }
        if (context.User.HasClaim(c => c.Type == AspireAiClaims.ApiKeyId)
            && request.Scopes.FirstOrDefault(scope => !context.User.HasClaim(ApiKeyScopes.ClaimType, scope)) is { } wider)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status403Forbidden, title: "The API key lacks a scope.",
                detail: $"A key can only create keys with scopes it has itself; it lacks '{wider}'.");
        }

        var created = await apiKeys.CreateAsync(user, request.Name, request.ExpiresInDays, request.Scopes, cancellationToken);
        if (created is null)
        {
            return TypedResults.Problem(statusCode: StatusCodes.Status409Conflict, title: "Too many API keys.",
                detail: $"A user can hold at most {ApiKeyService.MaxKeysPerUser} API keys; revoke one first.");
        }
        // The only response that ever contains the key.
        context.Response.Headers.CacheControl = "no-store";
        var info = created.Info;
        return TypedResults.Created($"/v1/api-keys/{info.Id}",
            new CreatedApiKeyResponse(info.Id, info.Name, info.Prefix, created.Key, info.Scopes, info.CreatedAt, info.ExpiresAt));
    }

    internal static async Task<Ok<ApiKeyList>> ListAsync(ApiKeyService apiKeys, HttpContext context, CancellationToken cancellationToken)
    {
        var user = context.User.GetCurrentUser();
        var keys = await apiKeys.ListAsync(user.UserId, cancellationToken);
        return TypedResults.Ok(new ApiKeyList([.. keys.Select(k => new ApiKeyResponse(k.Id, k.Name, k.Prefix, k.Scopes, k.CreatedAt, k.LastUsedAt, k.ExpiresAt))]));
    }

    internal static async Task<Results<NoContent, ProblemHttpResult>> RevokeAsync(
        Guid id, ApiKeyService apiKeys, HttpContext context, CancellationToken cancellationToken)
    {
        var user = context.User.GetCurrentUser();
        // Another user's key is "not found": its existence is none of the caller's business.
        return await apiKeys.RevokeAsync(user.UserId, id, cancellationToken)
            ? TypedResults.NoContent()
            : TypedResults.Problem(statusCode: StatusCodes.Status404NotFound, title: "API key not found.");
    }
}
