using System.ComponentModel.DataAnnotations;
using System.Globalization;
using AspireAi.Api.Auth;
using AspireAi.Core.Audit;
using AspireAi.Core.Encryption;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Encryption;

/// <summary>Encryption at rest, for administrators: what is left to encrypt, and key rotation (a durable job).</summary>
internal static class EncryptionApi
{
    public static RouteGroupBuilder MapEncryptionApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/encryption")
            .WithTags("Encryption")
            .RequireAuthorization(AspireAiPolicies.Admin)
            .RequireScope(ApiKeyScopes.Admin);
        group.MapGet("/status", GetStatus);
        group.MapPost("/rotations", RequestRotation);
        return group;
    }

    /// <param name="Mode"><c>rewrap</c>: re-wrap every data key with the current master key (after changing it, with
    /// the old one in Encryption:PreviousMasterKeys). <c>reencrypt</c>: new data keys, and every row re-encrypted.</param>
    /// <param name="OrgId">Re-encryption of one organisation only.</param>
    /// <param name="BatchSize">Rows per job (default 500).</param>
    /// <param name="RotateDataKeys">False: keep the data keys and only encrypt rows not under them (rows from before encryption).</param>
    public sealed record RotationRequest(
        [property: Required, RegularExpression("^(rewrap|reencrypt)$", ErrorMessage = "The mode must be 'rewrap' or 'reencrypt'.")] string? Mode,
        Guid? OrgId = null,
        [property: Range(1, KeyRotation.MaxBatchSize)] int? BatchSize = null,
        bool? RotateDataKeys = null);

    public sealed record RotationResponse(long JobId, string Mode, string? OrgId);

    internal static async Task<Ok<EncryptionStatus>> GetStatus(KeyRotation rotation, CancellationToken cancellationToken) =>
        TypedResults.Ok(await rotation.StatusAsync(cancellationToken));

    internal static async Task<Results<Accepted<RotationResponse>, ValidationProblem, ProblemHttpResult>> RequestRotation(
        RotationRequest request, KeyRotation rotation, CurrentUser admin, AuditLog audit, CancellationToken cancellationToken)
    {
        if (request.OrgId is { } orgId && !await rotation.OrgExistsAsync(orgId, cancellationToken))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["orgId"] = [$"There is no organisation {orgId}."] });
        }
        if (request.Mode == KeyRotation.Rewrap && (request.OrgId is not null || request.RotateDataKeys is not null))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]>
            {
                ["mode"] = ["'rewrap' re-wraps every data key with the master key; orgId and rotateDataKeys apply to 'reencrypt' only."],
            });
        }
        var payload = new KeyRotationPayload(request.Mode!, request.OrgId, request.BatchSize ?? KeyRotation.DefaultBatchSize,
            request.RotateDataKeys ?? true, admin.UserId);
        if (await rotation.RequestAsync(payload, cancellationToken) is not { } jobId)
        {
            return TypedResults.Problem(title: "A key rotation is already in progress",
                detail: "Wait for the encryption.rotate job that is queued or running to finish (GET /v1/admin/jobs?type=encryption.rotate).",
                statusCode: StatusCodes.Status409Conflict);
        }
        await audit.AppendAsync(admin.UserId, KeyRotation.RotationRequested, "encryption", request.OrgId?.ToString() ?? "all",
            new Dictionary<string, string?>
            {
                ["mode"] = payload.Mode,
                ["rotateDataKeys"] = payload.Mode == KeyRotation.Reencrypt && payload.RotateDataKeys ? "true" : "false",
                ["jobId"] = jobId.ToString(CultureInfo.InvariantCulture),
            }, cancellationToken);
        return TypedResults.Accepted($"/v1/admin/jobs/{jobId}", new RotationResponse(jobId, payload.Mode, request.OrgId?.ToString()));
    }
}
