using System.Globalization;
using AspireAi.Web.Account;
using AspireAi.Web.ApiClients;
using static AspireAi.Web.ApiClients.ApiResponses;

namespace AspireAi.Web.Usage;

/// <summary>A row of the Api's usage totals: Key is the day (yyyy-MM-dd), the model or the user id.</summary>
public sealed record UsageTotal(string Key, long Calls, long InputTokens, long OutputTokens, decimal Cost)
{
    public long Tokens => InputTokens + OutputTokens;
}

internal sealed record UsageTotals(DateTimeOffset From, DateTimeOffset To, string GroupBy, IReadOnlyList<UsageTotal> Totals);

public sealed record UserBudgetUse(string UserId, string Email, long TokensUsed, double Fraction);

internal sealed record BudgetUse(DateTimeOffset DayStart, DateTimeOffset ResetsAt, long DailyTokenBudget, IReadOnlyList<UserBudgetUse> Users);

// The Api's usage reports for admins (/v1/admin/usage). The Api checks the role of every call itself.
internal sealed class AdminUsageClient(HttpClient http, TimeProvider time)
{
    public async Task<UsageTotals> GetTotalsAsync(string groupBy, DateTimeOffset from, DateTimeOffset to, CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync(
            WithQuery("v1/admin/usage", ("groupBy", groupBy), ("from", Iso(from)), ("to", Iso(to))), cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<UsageTotals>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task<BudgetUse> GetBudgetUseAsync(CancellationToken cancellationToken)
    {
        using var response = await http.GetAsync("v1/admin/usage/budget", cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<BudgetUse>(time, cancellationToken).ConfigureAwait(false);
    }

    private static string Iso(DateTimeOffset value) => value.ToString("o", CultureInfo.InvariantCulture);
}

internal static class UsageUi
{
    public static IHostApplicationBuilder AddUsageUi(this IHostApplicationBuilder builder)
    {
        builder.Services.AddUserApiClient<AdminUsageClient>();
        return builder;
    }
}
