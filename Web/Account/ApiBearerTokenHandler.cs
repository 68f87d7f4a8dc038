using System.Net;
using System.Net.Http.Headers;

namespace AspireAi.Web.Account;

// Sends the signed-in user's access token with every call of the Api clients. An expired token is
// refreshed before the call; a 401 for a token that looked valid (revoked, signing key rotated, clocks
// apart) is refreshed once and the call repeated once: the Api rejected it before doing any work, so
// repeating it is safe even for a POST.
internal sealed partial class ApiBearerTokenHandler(
    IHttpContextAccessor httpContextAccessor,
    UserSession session,
    ILogger<ApiBearerTokenHandler> logger) : DelegatingHandler
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);

        // Outside a request (or signed out) the call goes without a token and the Api answers 401.
        if (httpContextAccessor.HttpContext is not { } context)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        var (tokens, refreshed) = await session.GetCurrentTokensAsync(context, cancellationToken).ConfigureAwait(false);
        if (tokens is null)
        {
            return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        }

        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", tokens.AccessToken);
        var response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (response.StatusCode != HttpStatusCode.Unauthorized || refreshed)
        {
            return response;
        }

        LogAccessTokenRejected();
        var fresh = await session.RefreshAsync(context, tokens, cancellationToken).ConfigureAwait(false);
        if (fresh is null || fresh.AccessToken == tokens.AccessToken)
        {
            return response;
        }

        response.Dispose();
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", fresh.AccessToken);
        return await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "The Api refused the user's access token; refreshing it once")]
    private partial void LogAccessTokenRejected();
}
