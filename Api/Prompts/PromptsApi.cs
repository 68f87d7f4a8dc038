using System.ComponentModel.DataAnnotations;
using AspireAi.Api.Auth;
using AspireAi.Core.Audit;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Prompts;

/// <summary>Admin management of versioned prompts: create a version, list, activate one, roll back.</summary>
public static class PromptsApi
{
    public static RouteGroupBuilder MapPromptsApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/admin/prompts").WithTags("Prompts").RequireAuthorization(AspireAiPolicies.Admin).RequireScope(ApiKeyScopes.Admin);
        group.MapPost("/", CreatePrompt);
        group.MapGet("/", ListPrompts);
        group.MapPost("/{name}/versions/{version:int}/activate", ActivatePrompt);
        group.MapPost("/{name}/rollback", RollbackPrompt);
        group.MapPromptRollouts();
        return group;
    }

    public sealed record CreatePromptRequest(
        [property: Required, RegularExpression("^[a-z][a-z0-9_.-]{0,63}$", ErrorMessage = "The name must be lowercase letters, digits, '.', '_' or '-', starting with a letter.")] string? Name,
        [property: Required, MinLength(1), MaxLength(20_000)] string? Template,
        [property: MaxLength(100)] string? Model,
        [property: Range(0.0, 2.0)] float? Temperature,
        [property: Range(1, 100_000)] int? MaxTokens,
        bool Activate = false);

    public sealed record PromptResponse(
        Guid Id, string Name, int Version, string Template, string? Model, float? Temperature, int? MaxTokens,
        Guid? CreatedBy, DateTimeOffset CreatedAt, string Sha256, bool IsActive);

    public static async Task<Results<Created<PromptResponse>, ProblemHttpResult>> CreatePrompt(
        CreatePromptRequest request, HttpContext http, PromptStore store, PromptRollouts rollouts, AuditLog audit)
    {
        if (request.Activate && await rollouts.IsRunningAsync(request.Name!, http.RequestAborted))
        {
            return RolloutRunning(request.Name!);
        }
        var actor = http.User.GetCurrentUser().UserId;
        var created = await store.CreateAsync(request.Name!, request.Template!, request.Model, request.Temperature, request.MaxTokens,
            actor, request.Activate, http.RequestAborted);
        await audit.AppendAsync(actor, request.Activate ? AuditLog.PromptActivated : AuditLog.PromptCreated, "prompt", created.Name,
            Version(created), http.RequestAborted);
        return TypedResults.Created($"/v1/admin/prompts?name={created.Name}", ToResponse(created));
    }

    public static async Task<Ok<PromptResponse[]>> ListPrompts(HttpContext http, PromptStore store, string? name = null) =>
        TypedResults.Ok((await store.ListAsync(name, http.RequestAborted)).Select(ToResponse).ToArray());

    public static async Task<Results<Ok<PromptResponse>, ProblemHttpResult>> ActivatePrompt(
        string name, int version, HttpContext http, PromptStore store, PromptRollouts rollouts, AuditLog audit)
    {
        if (await rollouts.IsRunningAsync(name, http.RequestAborted))
        {
            return RolloutRunning(name);
        }
        var activated = await store.ActivateAsync(name, version, http.RequestAborted);
        if (activated is not null)
        {
            await audit.AppendAsync(http.User.GetCurrentUser().UserId, AuditLog.PromptActivated, "prompt", activated.Name, Version(activated), http.RequestAborted);
        }
        return activated is null
            ? TypedResults.Problem(title: "Prompt version not found", detail: $"Prompt '{name}' has no version {version}.", statusCode: StatusCodes.Status404NotFound)
            : TypedResults.Ok(ToResponse(activated));
    }

    public static async Task<Results<Ok<PromptResponse>, ProblemHttpResult>> RollbackPrompt(
        string name, HttpContext http, PromptStore store, PromptRollouts rollouts, AuditLog audit)
    {
        if (await rollouts.IsRunningAsync(name, http.RequestAborted))
        {
            return RolloutRunning(name);
        }
        var activated = await store.RollbackAsync(name, http.RequestAborted);
        if (activated is not null)
        {
            await audit.AppendAsync(http.User.GetCurrentUser().UserId, AuditLog.PromptRolledBack, "prompt", activated.Name, Version(activated), http.RequestAborted);
        }
        return activated is null
            ? TypedResults.Problem(title: "Nothing to roll back to", detail: $"Prompt '{name}' has no active version with an older version before it.", statusCode: StatusCodes.Status409Conflict)
            : TypedResults.Ok(ToResponse(activated));
    }

    // The rollout compares its candidate with the active version: changing that version under it would make the
    // comparison (and the stop, which falls back to it) mean something else.
    private static ProblemHttpResult RolloutRunning(string name) => TypedResults.Problem(title: "Rollout running",
        detail: $"Prompt '{name}' has a rollout running; stop it or let it complete before changing the active version.",
        statusCode: StatusCodes.Status409Conflict);

    private static PromptResponse ToResponse(PromptVersion p) =>
        new(p.Id, p.Name, p.Version, p.Template, p.Model, p.Temperature, p.MaxTokens, p.CreatedBy, p.CreatedAt, p.Sha256, p.IsActive);

    private static Dictionary<string, string?> Version(PromptVersion prompt) => new()
    {
        ["version"] = prompt.Version.ToString(System.Globalization.CultureInfo.InvariantCulture),
        ["sha256"] = prompt.Sha256,
    };
}
