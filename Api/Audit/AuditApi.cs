using AspireAi.Api.Auth;
using AspireAi.Core.Audit;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Audit;

/// <summary>The hash-chained audit log, for administrators: read it (filtered, paged) and verify the chain.</summary>
internal static class AuditApi
{
    private const int DefaultLimit = 50;
    private const int MaxLimit = 200;

    public static RouteGroupBuilder MapAuditApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/audit")
            .WithTags("Audit")
            .RequireAuthorization(AspireAiPolicies.Admin)
            .RequireScope(ApiKeyScopes.Admin);

        group.MapGet("/", ListAsync);
        // Only reads, although it is a POST (it is an action, and may take a while on a large log).
        group.MapPost("/verify", VerifyAsync).ReadsOnly();

        return group;
    }

    internal static async Task<Results<Ok<AuditPage>, ValidationProblem>> ListAsync(
        AuditLog log, string? action, Guid? actorUserId, string? targetType, string? targetId, DateTimeOffset? from, DateTimeOffset? to,
        string? cursor, int? limit, CancellationToken cancellationToken)
    {
        var errors = new Dictionary<string, string[]>();
        if (limit is < 1 or > MaxLimit)
        {
            errors["limit"] = [$"The limit must be between 1 and {MaxLimit}."];
        }

        if (cursor is not null && !AuditLog.IsValidCursor(cursor))
        {
            errors["cursor"] = ["The cursor is not valid; pass the nextCursor of a previous page."];
        }

        if (from is not null && to is not null && from >= to)
        {
            errors["from"] = ["'from' must be before 'to'."];
        }

        if (errors.Count > 0)
        {
            return TypedResults.ValidationProblem(errors);
        }

        var (items, next) = await log.ListAsync(new AuditFilter(action, actorUserId, targetType, targetId, from, to), cursor,
            limit ?? DefaultLimit, cancellationToken);
        return TypedResults.Ok(new AuditPage(items, next));
    }

    internal static async Task<Ok<AuditVerificationResponse>> VerifyAsync(AuditLog log, CancellationToken cancellationToken)
    {
        var result = await log.VerifyAsync(cancellationToken);
        return TypedResults.Ok(new AuditVerificationResponse(result.FirstBroken is null, result.RowsChecked, result.FirstBroken));
    }

    internal sealed record AuditPage(IReadOnlyList<AuditRecord> Items, string? NextCursor);

    internal sealed record AuditVerificationResponse(bool Intact, long RowsChecked, AuditBreak? FirstBroken);
}
