using System.Globalization;

namespace AspireAi.ChatBench;

/// <summary>Memory and CPU time of processes, read from /proc.</summary>
internal static class ProcStats
{
    private static readonly double TicksPerSecond = 100; // USER_HZ, 100 on every Linux this runs on

    public static long Rss(int pid) => Field($"/proc/{pid}/status", "VmRSS:") * 1024;

    /// <summary>
    /// Postgres is a process per connection sharing its buffers: PSS splits shared pages among them, so the sum does
    /// not count shared_buffers once per backend.
    /// </summary>
    public static long PssWithChildren(int pid) => WithChildren(pid).Sum(p => Field($"/proc/{p}/smaps_rollup", "Pss:") * 1024);

    /// <summary>
    /// CPU time (user + system) of a process, of the children it has waited for (Postgres' backends that exited), and
    /// of its live children, in milliseconds.
    /// </summary>
    public static double CpuMilliseconds(int pid, bool withChildren = false) =>
        (withChildren ? WithChildren(pid) : [pid]).Sum(CpuMillisecondsOf);

    private static double CpuMillisecondsOf(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            // Fields after the command name, which is in parentheses and may hold spaces: utime, stime, cutime and
            // cstime are the 14th to 17th fields of the line, the 12th to 15th after the closing parenthesis.
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            var ticks = fields[11..15].Sum(f => long.Parse(f, CultureInfo.InvariantCulture));
            return ticks * 1000 / TicksPerSecond;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            return 0; // the process went away between listing and reading
        }
    }

    private static List<int> WithChildren(int pid)
    {
        var all = new List<int> { pid };
        foreach (var directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out var child) && child != pid && Field($"/proc/{child}/status", "PPid:") == pid)
            {
                all.Add(child);
            }
        }
        return all;
    }

    // The first number after "field" on its line (kB for the memory fields); 0 when the process is gone.
    private static long Field(string path, string field)
    {
        try
        {
            foreach (var line in File.ReadLines(path))
            {
                if (line.StartsWith(field, StringComparison.Ordinal))
                {
                    var number = line[field.Length..].Trim().Split(' ')[0];
                    return long.Parse(number, CultureInfo.InvariantCulture);
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            // The process went away between listing and reading.
        }
        return 0;
    }
}
