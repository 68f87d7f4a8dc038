using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Tests.Infrastructure;
using Npgsql;

namespace AspireAi.Tests.Auth;

internal sealed record TokenPairResponse(string AccessToken, string TokenType, int ExpiresIn, string RefreshToken, int RefreshExpiresIn);

internal static class AuthTestExtensions
{
    public static Task<HttpResponseMessage> RegisterAsync(this HttpClient client, string email, string password = "correct horse battery", string displayName = "Test User") =>
        client.PostAsJsonAsync("/v1/auth/register", new { email, password, displayName });

    public static Task<HttpResponseMessage> TokenAsync(this HttpClient client, string email, string password) =>
        client.PostAsJsonAsync("/v1/auth/token", new { email, password });

    public static Task<HttpResponseMessage> RefreshAsync(this HttpClient client, string refreshToken) =>
        client.PostAsJsonAsync("/v1/auth/refresh", new { refreshToken });

    public static async Task<TokenPairResponse> ReadTokensAsync(this HttpResponseMessage response)
    {
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return (await response.Content.ReadFromJsonAsync<TokenPairResponse>())!;
    }

    public static async Task<JsonElement> ReadJsonAsync(this HttpResponseMessage response) =>
        await response.Content.ReadFromJsonAsync<JsonElement>();

    /// <summary>Asserts an RFC 9457 body with the given status and returns it.</summary>
    public static async Task<JsonElement> ReadProblemAsync(this HttpResponseMessage response, HttpStatusCode status)
    {
        Assert.Equal(status, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.ReadJsonAsync();
        Assert.Equal((int)status, problem.GetProperty("status").GetInt32());
        return problem;
    }

    /// <summary>The field names of a 400 ValidationProblem, sorted.</summary>
    public static async Task<string[]> ReadValidationErrorKeysAsync(this HttpResponseMessage response)
    {
        var problem = await response.ReadProblemAsync(HttpStatusCode.BadRequest);
        return [.. problem.GetProperty("errors").EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal)];
    }

    public static HttpRequestMessage WithBearer(this HttpRequestMessage request, string credential)
    {
        request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", credential);
        return request;
    }

    public static Task<HttpResponseMessage> GetWithBearerAsync(this HttpClient client, string path, string credential) =>
        client.SendAsync(new HttpRequestMessage(HttpMethod.Get, path).WithBearer(credential));

    public static byte[] Sha256(string secret) => SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(secret));

    public static async Task<T?> ScalarAsync<T>(this ApiFactory factory, string sql, params object[] parameters)
    {
        await using var command = factory.DataSource.CreateCommand(sql);
        foreach (var parameter in parameters)
        {
            command.Parameters.Add(new NpgsqlParameter { Value = parameter });
        }
        var value = await command.ExecuteScalarAsync();
        return value is null or DBNull ? default : (T)value;
    }
}
