using System.Net.Http.Headers;

namespace AspireAi.Web.ApiClients;

// The Api's token endpoints. This client carries no user token of its own (it has no
// ApiBearerTokenHandler): it is what obtains and rotates those tokens.
internal sealed class ApiAuthClient(HttpClient http, TimeProvider time)
{
    public async Task<TokenResponse> CreateTokenAsync(string email, string password, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            "v1/auth/token", new TokenRequest(email, password), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<TokenResponse>(time, cancellationToken).ConfigureAwait(false);
    }

    // Rotates: after a success the refresh token passed in no longer works.
    public async Task<TokenResponse> RefreshAsync(string refreshToken, CancellationToken cancellationToken)
    {
        using var response = await http.PostAsJsonAsync(
            "v1/auth/refresh", new RefreshRequest(refreshToken), ApiJson.Options, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<TokenResponse>(time, cancellationToken).ConfigureAwait(false);
    }

    // Who a fresh access token belongs to (its role decides which pages Web offers).
    public async Task<MeResponse> GetMeAsync(string accessToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, "v1/auth/me");
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        return await response.ReadAsync<MeResponse>(time, cancellationToken).ConfigureAwait(false);
    }

    public async Task LogoutAsync(string accessToken, string refreshToken, CancellationToken cancellationToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Post, "v1/auth/logout")
        {
            Content = JsonContent.Create(new RefreshRequest(refreshToken), options: ApiJson.Options),
        };
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", accessToken);
        using var response = await http.SendAsync(request, cancellationToken).ConfigureAwait(false);
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
    }
}
