namespace AspireAi.Web.ApiClients;

/// <summary>
/// Tells the Api which browser a call is made for. Without it the Api sees Web's own address for every user, so
/// its per-address sign-in limits would throttle everyone at once and its audit would name the wrong client.
/// The Api trusts the header only from loopback proxies (ForwardedHeadersOptions' defaults).
/// </summary>
internal sealed class ForwardedForHandler(IHttpContextAccessor accessor) : DelegatingHandler
{
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        if (accessor.HttpContext?.Connection.RemoteIpAddress is { } address)
        {
            request.Headers.Remove("X-Forwarded-For");
            request.Headers.TryAddWithoutValidation("X-Forwarded-For", address.ToString());
        }
        return base.SendAsync(request, cancellationToken);
    }
}
