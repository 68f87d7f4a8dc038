using Microsoft.Extensions.Configuration;

namespace AspireAi.ServiceDefaults;

// Resolves logical service addresses from configuration laid out the way Aspire's AppHost writes it:
// services:{service}:{endpoint}:{index} = URL, e.g. the environment variable
// services__api__http__0=http://127.0.0.1:5080. Configuration is read on every call, so reloaded
// endpoints take effect without a restart.
public sealed class ServiceEndpointResolver(IConfiguration configuration)
{
    private const string SectionName = "services";

    // scheme is an endpoint name or a preference list joined by '+': "https+http" takes the https
    // endpoint when the service has one, otherwise http (Aspire semantics).
    public Uri? Resolve(string serviceName, string scheme)
    {
        ArgumentException.ThrowIfNullOrEmpty(serviceName);
        ArgumentException.ThrowIfNullOrEmpty(scheme);

        foreach (var endpointName in scheme.Split('+', StringSplitOptions.RemoveEmptyEntries))
        {
            var endpoint = configuration.GetSection($"{SectionName}:{serviceName}:{endpointName}")
                .GetChildren()
                .Select(address => address.Value)
                .FirstOrDefault(address => !string.IsNullOrWhiteSpace(address));

            if (endpoint is not null && ParseEndpoint(endpoint, endpointName) is { } uri)
            {
                return uri;
            }
        }

        return null;
    }

    // Aspire writes full URLs; a bare "host:port" takes the endpoint name as its scheme.
    private static Uri? ParseEndpoint(string endpoint, string endpointName)
    {
        if (Uri.TryCreate(endpoint, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps))
        {
            return uri;
        }

        return Uri.TryCreate($"{endpointName}://{endpoint}", UriKind.Absolute, out uri) ? uri : null;
    }
}
