namespace AspireAi.ServiceDefaults;

public static class AspireAiTelemetry
{
    public const string ActivitySourceName = "AspireAi";
    public const string MeterName = "AspireAi";

    // Features may use their own "AspireAi.<Feature>" source or meter; the wildcard does not match the
    // bare root name, so both are subscribed.
    internal static readonly string[] OwnSources = [ActivitySourceName, ActivitySourceName + ".*"];
    internal static readonly string[] OwnMeters = [MeterName, MeterName + ".*"];
}
