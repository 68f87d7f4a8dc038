using System.ComponentModel.DataAnnotations;
using System.Text.Json;
using AspireAi.Core.Jobs;

namespace AspireAi.Api.Jobs;

// The enqueue request is checked against what PostgreSQL will store, so a payload or key it would refuse is a 400
// naming the field, and never reaches the database (where it would fail the insert after the capacity check).

/// <summary>A job payload PostgreSQL's jsonb can hold: see <see cref="JobRequest.FindPayloadProblem"/>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
internal sealed class StorableJobPayloadAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is JsonElement payload && JobRequest.FindPayloadProblem(payload) is { } problem
            ? new ValidationResult(problem, validationContext?.MemberName is { } member ? [member] : null)
            : ValidationResult.Success;
}

/// <summary>A dedupe key without control characters or lone surrogates: see <see cref="JobRequest.FindDedupeKeyProblem"/>.</summary>
[AttributeUsage(AttributeTargets.Property | AttributeTargets.Parameter)]
internal sealed class StorableDedupeKeyAttribute : ValidationAttribute
{
    protected override ValidationResult? IsValid(object? value, ValidationContext validationContext) =>
        value is string key && JobRequest.FindDedupeKeyProblem(key) is { } problem
            ? new ValidationResult(problem, validationContext?.MemberName is { } member ? [member] : null)
            : ValidationResult.Success;
}
