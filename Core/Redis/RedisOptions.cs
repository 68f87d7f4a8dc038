using System.Globalization;
using System.Net;
using System.Text;

namespace AspireAi.Core.Redis;

/// <summary>
/// Connection settings, normally parsed from the StackExchange.Redis-style configuration string Aspire injects as
/// <c>ConnectionStrings__redis</c>: <c>host:port[,host2:port2],password=...,user=...,ssl=false,connectTimeout=5000,syncTimeout=5000,defaultDatabase=0</c>.
/// </summary>
public sealed class RedisOptions
{
    /// <summary>The port used when an endpoint names only a host.</summary>
    public const int DefaultPort = 6379;

    /// <summary>Endpoints tried in order on every (re)connect; the first that accepts the handshake is used.</summary>
    public IList<DnsEndPoint> Endpoints { get; } = [];

    /// <summary>ACL user name (AUTH user password); null authenticates as the default user.</summary>
    public string? User { get; set; }

    /// <summary>Password sent with AUTH; null sends no AUTH.</summary>
    public string? Password { get; set; }

    /// <summary>Wrap the connection in TLS.</summary>
    public bool Ssl { get; set; }

    /// <summary>Host name checked against the server certificate; defaults to the endpoint's host.</summary>
    public string? SslHost { get; set; }

    /// <summary>Database selected (SELECT) on every connect.</summary>
    public int DefaultDatabase { get; set; }

    /// <summary>Name shown by CLIENT LIST (CLIENT SETNAME); no spaces allowed.</summary>
    public string? ClientName { get; set; }

    /// <summary>Limit for TCP connect plus handshake on each attempt.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// How long a command may take from the call to its reply, including any wait for a connection. A command
    /// that is still unsent when it expires fails with <see cref="RedisConnectionException"/> if there is no
    /// connection, otherwise it fails with <see cref="RedisTimeoutException"/>.
    /// </summary>
    public TimeSpan CommandTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>First delay between reconnect attempts; it doubles per failed attempt, with jitter.</summary>
    public TimeSpan ReconnectBackoffBase { get; set; } = TimeSpan.FromMilliseconds(100);

    /// <summary>Upper bound of the reconnect delay.</summary>
    public TimeSpan ReconnectBackoffMax { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>Parses a StackExchange.Redis-style configuration string. Unknown keys are ignored.</summary>
    /// <exception cref="FormatException">No endpoint, or a malformed value for a known key.</exception>
    public static RedisOptions Parse(string configuration)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(configuration);
        var options = new RedisOptions();
        string? asyncTimeout = null;
        foreach (var part in configuration.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
        {
            var equals = part.IndexOf('=', StringComparison.Ordinal);
            if (equals < 0)
            {
                options.Endpoints.Add(ParseEndpoint(part));
                continue;
            }
            var key = part[..equals].Trim();
            var value = part[(equals + 1)..].Trim();
            switch (key.ToUpperInvariant())
            {
                case "PASSWORD": options.Password = value.Length == 0 ? null : value; break;
                case "USER": options.User = value.Length == 0 ? null : value; break;
                case "SSL": options.Ssl = ParseBool(key, value); break;
                case "SSLHOST": options.SslHost = value; break;
                case "NAME": options.ClientName = value; break;
                case "DEFAULTDATABASE": options.DefaultDatabase = ParseInt(key, value); break;
                case "CONNECTTIMEOUT": options.ConnectTimeout = ParseMilliseconds(key, value); break;
                case "SYNCTIMEOUT": options.CommandTimeout = ParseMilliseconds(key, value); break;
                case "ASYNCTIMEOUT": asyncTimeout = value; break;
                // abortConnect, connectRetry, keepAlive, allowAdmin ... have no meaning for this client: it never
                // blocks start-up on Redis and always reconnects in the background.
                default: break;
            }
        }
        if (asyncTimeout is not null)
        {
            // Every call here is asynchronous, so asyncTimeout is the more specific of the two when both are given.
            options.CommandTimeout = ParseMilliseconds("asyncTimeout", asyncTimeout);
        }
        if (options.Endpoints.Count == 0)
        {
            throw new FormatException("The Redis configuration string names no host:port endpoint.");
        }
        return options;
    }

    /// <summary>Checks the settings; the client calls it before connecting.</summary>
    /// <exception cref="ArgumentException">A setting is out of range.</exception>
    public void Validate()
    {
        if (Endpoints.Count == 0)
        {
            throw new ArgumentException("At least one Redis endpoint is required.", nameof(Endpoints));
        }
        RequirePositive(ConnectTimeout, nameof(ConnectTimeout));
        RequirePositive(CommandTimeout, nameof(CommandTimeout));
        RequirePositive(ReconnectBackoffBase, nameof(ReconnectBackoffBase));
        if (ReconnectBackoffMax < ReconnectBackoffBase)
        {
            throw new ArgumentException("ReconnectBackoffMax must not be smaller than ReconnectBackoffBase.", nameof(ReconnectBackoffMax));
        }
        if (DefaultDatabase < 0)
        {
            throw new ArgumentException("DefaultDatabase must not be negative.", nameof(DefaultDatabase));
        }
        if (ClientName is { } name && (name.Length == 0 || name.Any(c => c <= ' ')))
        {
            throw new ArgumentException("ClientName must be non-empty and contain no spaces.", nameof(ClientName));
        }
    }

    /// <summary>A snapshot, so that editing the options after the client was built cannot change it midway.</summary>
    internal RedisOptions Clone()
    {
        var copy = new RedisOptions
        {
            User = User,
            Password = Password,
            Ssl = Ssl,
            SslHost = SslHost,
            DefaultDatabase = DefaultDatabase,
            ClientName = ClientName,
            ConnectTimeout = ConnectTimeout,
            CommandTimeout = CommandTimeout,
            ReconnectBackoffBase = ReconnectBackoffBase,
            ReconnectBackoffMax = ReconnectBackoffMax,
        };
        foreach (var endpoint in Endpoints)
        {
            copy.Endpoints.Add(endpoint);
        }
        return copy;
    }

    /// <summary>The configuration string with the password masked, safe to log.</summary>
    public override string ToString()
    {
        var text = new StringBuilder(string.Join(',', Endpoints.Select(FormatEndpoint)));
        if (User is not null)
        {
            text.Append(",user=").Append(User);
        }
        if (Password is not null)
        {
            text.Append(",password=*****");
        }
        text.Append(CultureInfo.InvariantCulture, $",ssl={(Ssl ? "true" : "false")},defaultDatabase={DefaultDatabase}");
        text.Append(CultureInfo.InvariantCulture, $",connectTimeout={(long)ConnectTimeout.TotalMilliseconds},syncTimeout={(long)CommandTimeout.TotalMilliseconds}");
        return text.ToString();
    }

    internal static string FormatEndpoint(DnsEndPoint endpoint) =>
        endpoint.Host.Contains(':', StringComparison.Ordinal)
            ? $"[{endpoint.Host}]:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}"
            : $"{endpoint.Host}:{endpoint.Port.ToString(CultureInfo.InvariantCulture)}";

    private static DnsEndPoint ParseEndpoint(string text)
    {
        string host;
        string? port = null;
        if (text.StartsWith('['))
        {
            // [::1]:6380 - brackets are the only unambiguous way to give an IPv6 address a port.
            var close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new FormatException($"Malformed Redis endpoint '{text}'.");
            }
            host = text[1..close];
            var rest = text[(close + 1)..];
            if (rest.Length > 0)
            {
                port = rest.StartsWith(':') ? rest[1..] : throw new FormatException($"Malformed Redis endpoint '{text}'.");
            }
        }
        else if (text.Count(c => c == ':') == 1)
        {
            var colon = text.IndexOf(':', StringComparison.Ordinal);
            host = text[..colon];
            port = text[(colon + 1)..];
        }
        else
        {
            host = text;
        }
        if (host.Length == 0)
        {
            throw new FormatException($"Malformed Redis endpoint '{text}'.");
        }
        if (port is null)
        {
            return new DnsEndPoint(host, DefaultPort);
        }
        return int.TryParse(port, NumberStyles.None, CultureInfo.InvariantCulture, out var number) && number is > 0 and <= 65535
            ? new DnsEndPoint(host, number)
            : throw new FormatException($"Malformed port in Redis endpoint '{text}'.");
    }

    private static bool ParseBool(string key, string value) =>
        bool.TryParse(value, out var result) ? result : throw new FormatException($"Redis option '{key}' must be true or false.");

    private static int ParseInt(string key, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var result)
            ? result
            : throw new FormatException($"Redis option '{key}' must be an integer.");

    private static TimeSpan ParseMilliseconds(string key, string value)
    {
        var milliseconds = ParseInt(key, value);
        return milliseconds > 0 ? TimeSpan.FromMilliseconds(milliseconds) : throw new FormatException($"Redis option '{key}' must be a positive number of milliseconds.");
    }

    private static void RequirePositive(TimeSpan value, string name)
    {
        // The upper bound keeps deadline arithmetic far from overflow; no sane Redis timeout is longer.
        if (value <= TimeSpan.Zero || value > TimeSpan.FromDays(1))
        {
            throw new ArgumentException($"{name} must be positive and at most one day.", name);
        }
    }
}
