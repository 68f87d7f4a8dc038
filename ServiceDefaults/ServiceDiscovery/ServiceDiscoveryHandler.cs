using System.Net.Http;

namespace AspireAi.ServiceDefaults;

// Rewrites http://api/..., https+http://api/... (or a BaseAddress of that form) to the configured
// endpoint of "api". Hosts that are not service names are sent unchanged.
internal sealed class ServiceDiscoveryHandler(ServiceEndpointResolver resolver) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (request.RequestUri is { IsAbsoluteUri: true } logical
            && resolver.Resolve(logical.Host, logical.Scheme) is { } endpoint)
        {
            request.RequestUri = new UriBuilder(logical)
            {
                Scheme = endpoint.Scheme,
                Host = endpoint.Host,
                Port = endpoint.Port,
            }.Uri;
        }

        return base.SendAsync(request, cancellationToken);
    }
}
