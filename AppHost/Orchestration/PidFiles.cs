using AspireAi.LocalServers;

namespace AspireAi.AppHost.Orchestration;

/// <summary>
/// Records each service's pid and kernel start time, so that an AppHost started after one that was killed
/// (SIGKILL leaves its children running) can stop exactly those leftovers and not an unrelated process that
/// reused the pid.
/// </summary>
public static class PidFiles
{
    public static void Write(string runDirectory, string name, int pid)
    {
        Directory.CreateDirectory(runDirectory);
        File.WriteAllText(PathOf(runDirectory, name), $"{pid} {StartTime(pid)}");
    }

    public static void Delete(string runDirectory, string name) => File.Delete(PathOf(runDirectory, name));

    /// <summary>Kills the processes (and their trees) that a previous AppHost left behind.</summary>
    public static IReadOnlyList<string> KillLeftovers(string runDirectory)
    {
        var killed = new List<string>();
        if (!Directory.Exists(runDirectory))
        {
            return killed;
        }
        foreach (var file in Directory.GetFiles(runDirectory, "*.pid"))
        {
            var parts = File.ReadAllText(file).Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (parts.Length == 2 && int.TryParse(parts[0], out var pid) && NativeProcess.IsAlive(pid) && StartTime(pid) == parts[1])
            {
                try
                {
                    using var process = System.Diagnostics.Process.GetProcessById(pid);
                    process.Kill(entireProcessTree: true);
                    process.WaitForExit(TimeSpan.FromSeconds(10));
                    killed.Add($"{Path.GetFileNameWithoutExtension(file)} (pid {pid})");
                }
                catch (ArgumentException)
                {
                    // Exited in the meantime.
                }
            }
            File.Delete(file);
        }
        return killed;
    }

    private static string PathOf(string runDirectory, string name) => Path.Combine(runDirectory, $"{name}.pid");

    // Field 22 of /proc/<pid>/stat: start time in clock ticks since boot; unique per process incarnation.
    private static string StartTime(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return fields[19];
        }
        catch (IOException)
        {
            return "gone";
        }
    }
}
