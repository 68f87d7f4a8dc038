using System.Text.Json;
using System.Text.Json.Serialization;

namespace AspireAi.AppHost.Orchestration;

[JsonConverter(typeof(JsonStringEnumConverter<ResourceState>))]
public enum ResourceState
{
    Waiting,
    Starting,
    Running,
    Healthy,
    Unhealthy,
    Exited,
    Restarting,
    Finished,
    Failed,
    Stopping,
    Stopped,
}

/// <summary>One row of the resource table, immutable so that readers never see a half-updated row.</summary>
public sealed record ResourceSnapshot(string Name, string Type)
{
    public ResourceState State { get; init; } = ResourceState.Waiting;
    public int? Pid { get; init; }
    public string? Url { get; init; }
    public string? Health { get; init; }
    public int Restarts { get; init; }
    public int? ExitCode { get; init; }
    public string? Detail { get; init; }
    public DateTimeOffset ChangedAt { get; init; } = DateTimeOffset.UtcNow;
}

/// <summary>
/// The live state of every resource. Each change is announced to the console and written to
/// <c>run/resources.json</c>, so scripts and tests can read pids and states without scraping the console.
/// </summary>
public sealed class ResourceRegistry(string runDirectory)
{
    private static readonly JsonSerializerOptions JsonOptions = new() { WriteIndented = true, PropertyNamingPolicy = JsonNamingPolicy.CamelCase };

    private readonly Lock _gate = new();
    private readonly List<ResourceSnapshot> _resources = [];

    public event Action<ResourceSnapshot, ResourceSnapshot?>? Changed;

    public string StateFile => Path.Combine(runDirectory, "resources.json");

    public void Add(string name, string type) => Publish(new ResourceSnapshot(name, type), previous: null);

    public IReadOnlyList<ResourceSnapshot> Snapshot()
    {
        lock (_gate)
        {
            return [.. _resources];
        }
    }

    public ResourceSnapshot Get(string name)
    {
        lock (_gate)
        {
            return _resources.Single(r => r.Name == name);
        }
    }

    public void Update(string name, Func<ResourceSnapshot, ResourceSnapshot> change)
    {
        ResourceSnapshot previous, next;
        lock (_gate)
        {
            var index = _resources.FindIndex(r => r.Name == name);
            previous = _resources[index];
            next = change(previous) with { ChangedAt = DateTimeOffset.UtcNow };
            if (next == previous with { ChangedAt = next.ChangedAt })
            {
                return;
            }
            _resources[index] = next;
            WriteStateFile();
        }
        Changed?.Invoke(next, previous);
    }

    private void Publish(ResourceSnapshot snapshot, ResourceSnapshot? previous)
    {
        lock (_gate)
        {
            _resources.Add(snapshot);
            WriteStateFile();
        }
        Changed?.Invoke(snapshot, previous);
    }

    private void WriteStateFile()
    {
        Directory.CreateDirectory(runDirectory);
        // Write-then-rename so a reader never sees a torn file.
        var temp = StateFile + ".tmp";
        File.WriteAllText(temp, JsonSerializer.Serialize(_resources, JsonOptions));
        File.Move(temp, StateFile, overwrite: true);
    }
}
