using Npgsql;

namespace AspireAi.Core.Data;

/// <summary>
/// Statements are prepared on each pooled connection once they repeat (<see cref="DatabaseOptions.MaxAutoPrepare"/>),
/// and PostgreSQL may then plan a prepared statement once for all values (a generic plan). A search whose best plan
/// turns on its values must not get one that was made for other values: memory search's semantic leg walks the HNSW
/// graph for one user's 100,000 memories and ranks another's 3 exactly. It is therefore sent as one of two statements
/// that can each be planned only one way, chosen by the application from the scope's size, and planned once
/// (<see cref="GenericPlans"/>); or, before the table's statistics exist, planned for its values every time
/// (<see cref="CustomPlans"/>), as document search still is. Memory search's keyword leg has one good plan for every
/// scope and is planned once too; its entity leg is left to PostgreSQL's choice, which settles on a generic plan.
/// </summary>
public static class PlanCache
{
    /// <summary>Run first in a search's transaction: the statements after it are planned for their values each time.</summary>
    public const string CustomPlans = "SET LOCAL plan_cache_mode = force_custom_plan";

    /// <summary>
    /// Run first in a search's transaction whose statement has only one possible plan: it is planned once per
    /// connection, where PostgreSQL's own choice would keep planning it (a generic plan's estimate, made without the
    /// LIMIT's value, looks costlier than the custom ones).
    /// </summary>
    public const string GenericPlans = "SET LOCAL plan_cache_mode = force_generic_plan";

    /// <summary>
    /// Run after the search in a transaction that goes on with other work (a job's): <see cref="CustomPlans"/> or
    /// <see cref="GenericPlans"/> would otherwise hold to its end, and every later statement, each a plain look-up or
    /// write, would be planned the search's way (with custom plans: again on every call; planning was a quarter of the
    /// database's CPU in the chat benchmark, most of it statements like these).
    /// </summary>
    public const string DefaultPlans = "SET LOCAL plan_cache_mode = DEFAULT";

    /// <summary>
    /// Adds <paramref name="statements"/> to run in a transaction of their own on plans made once per connection:
    /// BEGIN, <see cref="GenericPlans"/>, the statements and COMMIT, all in the batch's one round trip (a COMMIT that
    /// flushes the WAL still returns only once it is flushed). For statements whose one plan serves every value, which
    /// PostgreSQL's own choice would plan five times per pooled connection, or on every call. A batch that fails leaves
    /// its transaction open, and the pool rolls it back when the connection returns.
    /// </summary>
    public static void AddOnGenericPlans(NpgsqlBatch batch, params ReadOnlySpan<NpgsqlBatchCommand> statements)
    {
        ArgumentNullException.ThrowIfNull(batch);
        batch.BatchCommands.Add(new NpgsqlBatchCommand("BEGIN"));
        batch.BatchCommands.Add(new NpgsqlBatchCommand(GenericPlans));
        foreach (var statement in statements)
        {
            batch.BatchCommands.Add(statement);
        }
        batch.BatchCommands.Add(new NpgsqlBatchCommand("COMMIT"));
    }
}
