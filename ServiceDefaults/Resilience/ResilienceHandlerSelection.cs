namespace AspireAi.ServiceDefaults;

// Named options keyed by HttpClient name: which resilience profile that client asked for, if any.
internal sealed class ResilienceHandlerSelection
{
    public string? ProfileName { get; set; }
}
