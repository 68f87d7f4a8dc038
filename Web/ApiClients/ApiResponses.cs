using System.Globalization;
using System.Text;

namespace AspireAi.Web.ApiClients;

internal static class ApiResponses
{
    public static async Task EnsureSuccessAsync(this HttpResponseMessage response, TimeProvider time, CancellationToken cancellationToken)
    {
        if (!response.IsSuccessStatusCode)
        {
            throw new ApiException(await ApiProblem.ReadAsync(response, time, cancellationToken).ConfigureAwait(false));
        }
    }

    public static async Task<T> ReadAsync<T>(this HttpResponseMessage response, TimeProvider time, CancellationToken cancellationToken)
    {
        await response.EnsureSuccessAsync(time, cancellationToken).ConfigureAwait(false);
        return await response.Content.ReadFromJsonAsync<T>(ApiJson.Options, cancellationToken).ConfigureAwait(false)
            ?? throw new ApiException(new ApiProblem(
                502, "The Api sent an empty answer.", null, null, null, new Dictionary<string, string[]>(), null));
    }

    // "v1/conversations" + ("limit", "20"), ("cursor", null) -> "v1/conversations?limit=20"
    public static string WithQuery(string path, params (string Name, string? Value)[] parameters)
    {
        var builder = new StringBuilder(path);
        var separator = '?';
        foreach (var (name, value) in parameters)
        {
            if (string.IsNullOrEmpty(value))
            {
                continue;
            }

            builder.Append(separator).Append(name).Append('=').Append(Uri.EscapeDataString(value));
            separator = '&';
        }

        return builder.ToString();
    }

    public static string Segment(string value) => Uri.EscapeDataString(value);

    public static string Invariant(int value) => value.ToString(CultureInfo.InvariantCulture);
}
