using System.Net;
using System.Net.Sockets;
using System.Runtime.InteropServices;

namespace AspireAi.LocalServers;

/// <summary>POSIX process primitives that System.Diagnostics.Process does not expose (signals, uid).</summary>
public static partial class NativeProcess
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    private const int ESRCH = 3;

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int SysKill(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "geteuid")]
    private static partial uint SysGetEuid();

    public static bool IsRoot => OperatingSystem.IsLinux() && SysGetEuid() == 0;

    /// <summary>Sends a signal; returns false when the process no longer exists.</summary>
    public static bool Signal(int pid, int signal) => SysKill(pid, signal) == 0;

    public static bool IsAlive(int pid)
    {
        if (pid <= 0)
        {
            return false;
        }
        if (SysKill(pid, 0) == 0)
        {
            // A zombie still answers kill(0); it is dead for our purposes.
            return !IsZombie(pid);
        }
        return Marshal.GetLastPInvokeError() != ESRCH;
    }

    private static bool IsZombie(int pid)
    {
        try
        {
            var stat = File.ReadAllText($"/proc/{pid}/stat");
            var close = stat.LastIndexOf(')');
            return close > 0 && close + 2 < stat.Length && stat[close + 2] == 'Z';
        }
        catch (IOException)
        {
            return false;
        }
        catch (UnauthorizedAccessException)
        {
            return false;
        }
    }

    /// <summary>
    /// A free loopback port below the kernel's ephemeral range, never handed out twice in this process. Callers still
    /// bind soon after: another process could take it first.
    /// </summary>
    /// <remarks>
    /// Not a port from bind(0): that comes from the ephemeral range, which the kernel also draws on for every outgoing
    /// connection and for every other bind(0), and a service that binds seconds after its port was chosen (the web
    /// front end, which the AppHost starts last) found it taken ("address already in use") in a full run of the suite.
    /// </remarks>
    public static int FreeTcpPort()
    {
        lock (HandedOut)
        {
            for (var attempt = 0; attempt < 200; attempt++)
            {
                var port = Random.Shared.Next(EphemeralRangeStart - 12000, EphemeralRangeStart);
                if (HandedOut.Add(port) && !IsTcpPortInUse(port))
                {
                    return port;
                }
            }
        }
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static readonly HashSet<int> HandedOut = [];

    // Read once: the kernel's setting does not change under a test run.
    private static readonly int EphemeralRangeStart = ReadEphemeralRangeStart();

    private static int ReadEphemeralRangeStart()
    {
        const string range = "/proc/sys/net/ipv4/ip_local_port_range";
        return File.Exists(range) && int.TryParse(File.ReadAllText(range).Split((char[]?)null, StringSplitOptions.RemoveEmptyEntries)[0], out var start)
            && start > 13000 ? start : 32768;
    }

    public static bool IsTcpPortInUse(int port)
    {
        try
        {
            using var listener = new TcpListener(IPAddress.Loopback, port);
            listener.Start();
            return false;
        }
        catch (SocketException)
        {
            return true;
        }
    }

    public static async Task WaitForExitAsync(int pid, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (IsAlive(pid) && DateTime.UtcNow < deadline)
        {
            await Task.Delay(50).ConfigureAwait(false);
        }
    }
}
