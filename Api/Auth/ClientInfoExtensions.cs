using AspireAi.Core.Identity;

namespace AspireAi.Api.Auth;

internal static class ClientInfoExtensions
{
    /// <summary>The caller's address and user agent, as recorded with sessions and audit entries.</summary>
    public static ClientInfo GetClientInfo(this HttpContext context) =>
        ClientInfo.Create(context.Connection.RemoteIpAddress, context.Request.Headers.UserAgent.ToString() is { Length: > 0 } ua ? ua : null);
}
