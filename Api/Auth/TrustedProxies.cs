using System.ComponentModel.DataAnnotations;
using System.Net;
using System.Security.Cryptography;
using System.Text;
using Microsoft.AspNetCore.HttpOverrides;
using Microsoft.Extensions.Options;

namespace AspireAi.Api.Auth;

/// <summary>
/// Who may say, in <c>X-Forwarded-For</c>, which address a request really comes from (<c>Proxy</c> section). The
/// address feeds the per-address sign-in limits and the audit log, so a forged one would let anyone dodge the
/// first and poison the second. Loopback is not trusted by itself: any process on the host can reach the Api there.
/// </summary>
public sealed class TrustedProxyOptions
{
    public const string SectionName = "Proxy";

    /// <summary>The header Web sends its <see cref="Key"/> in.</summary>
    public const string KeyHeader = "X-AspireAi-Proxy-Key";

    /// <summary>
    /// A secret shared with Web (the AppHost generates it): a request carrying it in <see cref="KeyHeader"/> comes
    /// from Web, and its <c>X-Forwarded-For</c> names the browser. Empty: no caller is trusted this way.
    /// </summary>
    [MinLength(16)]
    public string? Key { get; set; }

    /// <summary>Addresses of reverse proxies in front of the Api whose <c>X-Forwarded-For</c> is trusted. None by default.</summary>
    public List<string> KnownProxies { get; } = [];
}

internal static class TrustedProxies
{
    public static IHostApplicationBuilder AddTrustedProxies(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOptions<TrustedProxyOptions>()
            .BindConfiguration(TrustedProxyOptions.SectionName)
            .ValidateDataAnnotations()
            .Validate(o => o.KnownProxies.TrueForAll(p => IPAddress.TryParse(p, out _)), "Proxy:KnownProxies holds an entry that is not an IP address.")
            .ValidateOnStart();
        builder.Services.AddOptions<ForwardedHeadersOptions>().Configure<IOptions<TrustedProxyOptions>>((forwarded, proxies) =>
        {
            forwarded.ForwardedHeaders = ForwardedHeaders.XForwardedFor;
            // The defaults trust every loopback caller; only the configured proxies are trusted here.
            forwarded.KnownIPNetworks.Clear();
            forwarded.KnownProxies.Clear();
            foreach (var proxy in proxies.Value.KnownProxies)
            {
                forwarded.KnownProxies.Add(IPAddress.Parse(proxy));
            }
        });
        return builder;
    }

    /// <summary>Applies <c>X-Forwarded-For</c> from Web (proven by the shared key) or a configured proxy; ignores it from anyone else.</summary>
    public static IApplicationBuilder UseTrustedProxies(this IApplicationBuilder app)
    {
        app.Use((context, next) =>
        {
            var headers = context.Request.Headers;
            if (headers.TryGetValue(TrustedProxyOptions.KeyHeader, out var presented))
            {
                var key = context.RequestServices.GetRequiredService<IOptions<TrustedProxyOptions>>().Value.Key;
                // The key is a secret: it goes no further than this check (not into logs, not to handlers).
                headers.Remove(TrustedProxyOptions.KeyHeader);
                if (key is { Length: > 0 } && FixedTimeEquals(presented.ToString(), key)
                    && LastAddress(headers["X-Forwarded-For"].ToString()) is { } client)
                {
                    context.Connection.RemoteIpAddress = client;
                    headers.Remove("X-Forwarded-For");
                }
            }

            return next(context);
        });
        // With no known proxy at all the middleware would trust every caller, so it runs only when some are configured.
        return app.ApplicationServices.GetRequiredService<IOptions<TrustedProxyOptions>>().Value.KnownProxies.Count > 0
            ? app.UseForwardedHeaders()
            : app;
    }

    // Web appends the browser's address last; anything before it came from the browser and proves nothing.
    private static IPAddress? LastAddress(string header)
    {
        var last = header.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault();
        return IPAddress.TryParse(last, out var address) ? address : null;
    }

    private static bool FixedTimeEquals(string presented, string key) =>
        CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(presented)), SHA256.HashData(Encoding.UTF8.GetBytes(key)));
}
