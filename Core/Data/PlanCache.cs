namespace AspireAi.Core.Data;

/// <summary>
/// Statements are prepared on each pooled connection once they repeat (<see cref="DatabaseOptions.MaxAutoPrepare"/>),
/// and PostgreSQL may then plan a prepared statement once for all values (a generic plan). Searches must not: their
/// best plan depends on the values (one user's 100,000 memories or another's 3) and on settings the plan cache does not
/// key on (<c>enable_indexscan = off</c> is how exact search, the recall monitors' ground truth, is asked for).
/// </summary>
public static class PlanCache
{
    /// <summary>Run first in a search's transaction: the statements after it are planned for their values each time.</summary>
    public const string CustomPlans = "SET LOCAL plan_cache_mode = force_custom_plan";
}
