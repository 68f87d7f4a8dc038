using AspireAi.Api.Auth;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Usage;

/// <summary>Token and cost reports from the usage ledger: the caller's own, and org-wide totals for admins.</summary>
public static class UsageApi
{
    private static readonly TimeSpan MaxRange = TimeSpan.FromDays(366);

    public static IEndpointRouteBuilder MapUsageApi(this IEndpointRouteBuilder app)
    {
        app.MapGroup("/v1/usage").WithTags("Usage").RequireAuthorization().RequireScope(ApiKeyScopes.Chat).MapGet("/", GetMyUsage);
        var admin = app.MapGroup("/v1/admin/usage").WithTags("Usage").RequireAuthorization(AspireAiPolicies.Admin).RequireScope(ApiKeyScopes.Admin);
        admin.MapGet("/", GetTotals);
        admin.MapGet("/budget", GetBudgetUse);
        return app;
    }

    public sealed record UsageResponse(
        DateTimeOffset From, DateTimeOffset To, long DailyTokenBudget, long TokensUsedToday, DateTimeOffset BudgetResetsAt,
        IReadOnlyList<UsageTotal> ByDay, IReadOnlyList<UsageTotal> ByModel);

    public sealed record TotalsResponse(DateTimeOffset From, DateTimeOffset To, string GroupBy, IReadOnlyList<UsageTotal> Totals);

    public sealed record BudgetUseResponse(DateTimeOffset DayStart, DateTimeOffset ResetsAt, long DailyTokenBudget, IReadOnlyList<UserBudgetUse> Users);

    public sealed record UserBudgetUse(Guid UserId, string Email, long TokensUsed, double Fraction);

    /// <summary>Today's token use per user against the daily budget, the heaviest users first (at most 200).</summary>
    public static async Task<Ok<BudgetUseResponse>> GetBudgetUse(HttpContext http, UsageLedger ledger, IOptions<ChatSettings> settings)
    {
        var (dayStart, reset) = ledger.CurrentDay();
        var budget = settings.Value.DailyTokenBudget;
        var uses = await ledger.BudgetUseSinceAsync(dayStart, 200, http.RequestAborted);
        return TypedResults.Ok(new BudgetUseResponse(dayStart, reset, budget,
            [.. uses.Select(u => new UserBudgetUse(u.UserId, u.Email, u.TokensUsed, budget > 0 ? (double)u.TokensUsed / budget : 0))]));
    }

    public static async Task<Results<Ok<UsageResponse>, ValidationProblem>> GetMyUsage(
        HttpContext http, UsageLedger ledger, IOptions<ChatSettings> settings, DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        if (Range(from, to) is not { } range)
        {
            return RangeProblem();
        }
        var user = http.User.GetCurrentUser();
        var (dayStart, reset) = ledger.CurrentDay();
        var today = await ledger.TokensSinceAsync(user.UserId, dayStart, http.RequestAborted);
        var byDay = await ledger.TotalsAsync(user.UserId, range.From, range.To, UsageGrouping.Day, http.RequestAborted);
        var byModel = await ledger.TotalsAsync(user.UserId, range.From, range.To, UsageGrouping.Model, http.RequestAborted);
        return TypedResults.Ok(new UsageResponse(range.From, range.To, settings.Value.DailyTokenBudget, today, reset, byDay, byModel));
    }

    public static async Task<Results<Ok<TotalsResponse>, ValidationProblem>> GetTotals(
        HttpContext http, UsageLedger ledger, string groupBy = "day", DateTimeOffset? from = null, DateTimeOffset? to = null)
    {
        if (!Enum.TryParse<UsageGrouping>(groupBy, ignoreCase: true, out var grouping) || !Enum.IsDefined(grouping))
        {
            return TypedResults.ValidationProblem(new Dictionary<string, string[]> { ["groupBy"] = ["groupBy must be one of: day, model, user."] });
        }
        if (Range(from, to) is not { } range)
        {
            return RangeProblem();
        }
        var totals = await ledger.TotalsAsync(null, range.From, range.To, grouping, http.RequestAborted);
        return TypedResults.Ok(new TotalsResponse(range.From, range.To, grouping.ToString().ToLowerInvariant(), totals));
    }

    /// <summary>Defaults to the last 30 days; rejects inverted or over-long ranges.</summary>
    private static (DateTimeOffset From, DateTimeOffset To)? Range(DateTimeOffset? from, DateTimeOffset? to)
    {
        var end = to ?? DateTimeOffset.UtcNow;
        var start = from ?? end.AddDays(-30);
        return start < end && end - start <= MaxRange ? (start, end) : null;
    }

    private static ValidationProblem RangeProblem() => TypedResults.ValidationProblem(new Dictionary<string, string[]>
    {
        ["from"] = ["from must be before to, and the range at most 366 days."],
    });
}
