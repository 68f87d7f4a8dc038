using System.Diagnostics.CodeAnalysis;

// The seam mirrors StackExchange.Redis (When, start/stop) and RESP's own vocabulary (Integer) on purpose, so call
// sites read the same when that library replaces this folder; VB interop is not a concern for this code.
[assembly: SuppressMessage("Naming", "CA1716:Identifiers should not match keywords",
    Scope = "namespaceanddescendants", Target = "~N:AspireAi.Core.Redis",
    Justification = "Names mirror StackExchange.Redis so call sites survive the swap.")]
[assembly: SuppressMessage("Naming", "CA1720:Identifier contains type name",
    Scope = "member", Target = "~F:AspireAi.Core.Redis.RedisResultType.Integer",
    Justification = "RESP names this reply type Integer.")]
