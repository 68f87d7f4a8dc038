namespace AspireAi.Core.Data;

/// <summary>
/// Statements are prepared on each pooled connection once they repeat (<see cref="DatabaseOptions.MaxAutoPrepare"/>),
/// and PostgreSQL may then plan a prepared statement once for all values (a generic plan). Semantic searches must not:
/// their best plan depends on the values (the HNSW graph for one user's 100,000 memories, an exact ranking for another's
/// 3) and on settings the plan cache does not key on (<c>enable_indexscan = off</c> is how exact search, the recall
/// monitors' ground truth, is asked for). Searches whose plan does not turn on the scope's size (memory search's keyword
/// and entity legs) are left to PostgreSQL's choice.
/// </summary>
public static class PlanCache
{
    /// <summary>Run first in a search's transaction: the statements after it are planned for their values each time.</summary>
    public const string CustomPlans = "SET LOCAL plan_cache_mode = force_custom_plan";

    /// <summary>
    /// Run after the search in a transaction that goes on with other work (a job's): <see cref="CustomPlans"/> would
    /// otherwise hold to its end, and every later statement, each a plain look-up or write, would be planned again on
    /// every call (planning was a quarter of the database's CPU in the chat benchmark, most of it statements like these).
    /// </summary>
    public const string DefaultPlans = "SET LOCAL plan_cache_mode = DEFAULT";
}
