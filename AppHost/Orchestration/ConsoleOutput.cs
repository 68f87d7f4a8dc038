using System.Globalization;
using System.Text;
using System.Threading.Channels;

namespace AspireAi.AppHost.Orchestration;

/// <summary>
/// The one writer to the console: resource log lines with a name prefix, state changes, and (interactive mode)
/// the resource table, redrawn whenever a state changes. A channel serialises writers so lines never interleave.
/// </summary>
public sealed class ConsoleOutput : IAsyncDisposable
{
    private static readonly string[] Palette = ["\u001b[36m", "\u001b[35m", "\u001b[33m", "\u001b[32m", "\u001b[34m", "\u001b[96m", "\u001b[95m"];
    private const string Reset = "\u001b[0m";
    private static readonly string[] Header = ["NAME", "TYPE", "STATE", "PID", "URL", "HEALTH", "RESTARTS"];

    private readonly Channel<string> _lines = Channel.CreateUnbounded<string>(new UnboundedChannelOptions { SingleReader = true });
    private readonly Dictionary<string, string> _colors = new(StringComparer.Ordinal);
    private readonly bool _color;
    private readonly Task _writer;
    private readonly TextWriter _out;

    public ConsoleOutput(TextWriter output, bool color)
    {
        _out = output;
        _color = color;
        _writer = Task.Run(WriteLoopAsync);
    }

    public void Log(string resource, string line)
    {
        var prefix = $"{resource,-10}|";
        _lines.Writer.TryWrite(_color ? $"{ColorFor(resource)}{prefix}{Reset} {line}" : $"{prefix} {line}");
    }

    public void Info(string line) => Log("apphost", line);

    public void Table(IReadOnlyList<ResourceSnapshot> resources)
    {
        var rows = new List<string[]> { Header };
        rows.AddRange(resources.Select(r => new[]
        {
            r.Name, r.Type, r.State.ToString(), r.Pid?.ToString(CultureInfo.InvariantCulture) ?? "-", r.Url ?? "-",
            r.Health ?? "-", r.Restarts.ToString(CultureInfo.InvariantCulture),
        }));
        var widths = Enumerable.Range(0, rows[0].Length).Select(c => rows.Max(r => r[c].Length)).ToArray();
        var text = new StringBuilder();
        var rule = "+" + string.Join("+", widths.Select(w => new string('-', w + 2))) + "+";
        text.AppendLine(rule);
        for (var i = 0; i < rows.Count; i++)
        {
            text.Append('|');
            for (var c = 0; c < widths.Length; c++)
            {
                var cell = rows[i][c].PadRight(widths[c]);
                text.Append(' ').Append(_color && i > 0 && c == 2 ? $"{StateColor(resources[i - 1].State)}{cell}{Reset}" : cell).Append(" |");
            }
            text.AppendLine();
            if (i == 0)
            {
                text.AppendLine(rule);
            }
        }
        text.Append(rule);
        _lines.Writer.TryWrite(text.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        _lines.Writer.TryComplete();
        await _writer.ConfigureAwait(false);
    }

    private async Task WriteLoopAsync()
    {
        await foreach (var line in _lines.Reader.ReadAllAsync().ConfigureAwait(false))
        {
            _out.WriteLine(line);
        }
        _out.Flush();
    }

    private string ColorFor(string resource)
    {
        lock (_colors)
        {
            if (!_colors.TryGetValue(resource, out var color))
            {
                color = Palette[_colors.Count % Palette.Length];
                _colors[resource] = color;
            }
            return color;
        }
    }

    private static string StateColor(ResourceState state) => state switch
    {
        ResourceState.Healthy or ResourceState.Finished => "\u001b[32m",
        ResourceState.Failed or ResourceState.Exited or ResourceState.Unhealthy => "\u001b[31m",
        _ => "\u001b[33m",
    };
}
