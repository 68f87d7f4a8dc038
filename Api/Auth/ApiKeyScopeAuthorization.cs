using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.Authorization.Policy;
using Microsoft.AspNetCore.Mvc;

namespace AspireAi.Api.Auth;

/// <summary>
/// Least privilege for API keys: an endpoint group names the scope it needs (one for reads, one for writes), and a
/// request made with a key that lacks it is refused with a 403 that names the scope, before the handler runs — so
/// nothing happens. Requests with an access token (a signed-in session) pass: sessions are not scoped.
/// </summary>
internal static class ApiKeyScopeAuthorization
{
    /// <summary>Requires <paramref name="readScope"/> for GET/HEAD and <paramref name="writeScope"/> for every other method.</summary>
    public static TBuilder RequireScope<TBuilder>(this TBuilder builder, string readScope, string? writeScope = null)
        where TBuilder : IEndpointConventionBuilder =>
        builder.RequireAuthorization(new AuthorizationPolicyBuilder(AspireAiPolicies.BearerScheme)
            .RequireAuthenticatedUser()
            .AddRequirements(new ScopeRequirement(readScope, writeScope ?? readScope))
            .Build());

    /// <summary>Marks a POST that only reads (a search) as needing the read scope of its group.</summary>
    public static TBuilder ReadsOnly<TBuilder>(this TBuilder builder) where TBuilder : IEndpointConventionBuilder =>
        builder.WithMetadata(new ReadOnlyOperation());

    public static IServiceCollection AddApiKeyScopes(this IServiceCollection services)
    {
        services.AddSingleton<IAuthorizationHandler, ScopeHandler>();
        services.AddSingleton<IAuthorizationMiddlewareResultHandler, ScopeProblemResultHandler>();
        return services;
    }

    /// <summary>The scope this request needs, or null when the caller is a session (not an API key).</summary>
    public static string? MissingScope(HttpContext context, ScopeRequirement requirement)
    {
        var user = context.User;
        if (!user.HasClaim(c => c.Type == AspireAiClaims.ApiKeyId))
        {
            return null;
        }

        var reads = HttpMethods.IsGet(context.Request.Method) || HttpMethods.IsHead(context.Request.Method)
            || context.GetEndpoint()?.Metadata.GetMetadata<ReadOnlyOperation>() is not null;
        var needed = reads
            ? requirement.ReadScope
            : requirement.WriteScope;
        return user.HasClaim(ApiKeyScopes.ClaimType, needed) ? null : needed;
    }

    private sealed class ReadOnlyOperation;

    internal sealed record ScopeRequirement(string ReadScope, string WriteScope) : IAuthorizationRequirement;

    private sealed class ScopeHandler : AuthorizationHandler<ScopeRequirement>
    {
        protected override Task HandleRequirementAsync(AuthorizationHandlerContext context, ScopeRequirement requirement)
        {
            if (context.Resource is HttpContext http && MissingScope(http, requirement) is { } missing)
            {
                context.Fail(new AuthorizationFailureReason(this, missing));
            }
            else
            {
                context.Succeed(requirement);
            }

            return Task.CompletedTask;
        }
    }

    // The default 403 cannot say what was missing; a caller with a key needs to know which scope to ask for.
    private sealed class ScopeProblemResultHandler : IAuthorizationMiddlewareResultHandler
    {
        private readonly AuthorizationMiddlewareResultHandler _default = new();

        public Task HandleAsync(RequestDelegate next, HttpContext context, AuthorizationPolicy policy, PolicyAuthorizationResult authorizeResult)
        {
            var missing = authorizeResult.Forbidden
                ? authorizeResult.AuthorizationFailure?.FailureReasons.FirstOrDefault(r => r.Handler is ScopeHandler)?.Message
                : null;
            if (missing is null)
            {
                return _default.HandleAsync(next, context, policy, authorizeResult);
            }

            context.Response.StatusCode = StatusCodes.Status403Forbidden;
            return context.RequestServices.GetRequiredService<IProblemDetailsService>().WriteAsync(new ProblemDetailsContext
            {
                HttpContext = context,
                ProblemDetails = new ProblemDetails
                {
                    Status = StatusCodes.Status403Forbidden,
                    Title = "The API key lacks a scope.",
                    Detail = $"This request needs the scope '{missing}'; create a key that has it.",
                    Extensions = { ["requiredScope"] = missing },
                },
            }).AsTask();
        }
    }
}
