using System.Text.Json;
using Microsoft.AspNetCore.Http;

namespace AspireAi.ServiceDefaults;

/// <summary>
/// Validation errors are keyed by the JSON names clients send ("email", "items[0].name"), not by C# property names:
/// .NET 10's validation uses the latter and offers no switch (dotnet/aspnetcore#61764), so the keys are rewritten
/// where every ProblemDetails passes.
/// </summary>
internal static class ValidationKeyCasing
{
    public static void Apply(ProblemDetailsContext context)
    {
        if (context.ProblemDetails is not HttpValidationProblemDetails validation || validation.Errors.Count == 0)
        {
            return;
        }
        var renamed = validation.Errors.ToDictionary(e => CamelCase(e.Key), e => e.Value, StringComparer.Ordinal);
        validation.Errors.Clear();
        foreach (var (key, value) in renamed)
        {
            validation.Errors[key] = value;
        }
    }

    private static string CamelCase(string key) =>
        string.Join('.', key.Split('.').Select(JsonNamingPolicy.CamelCase.ConvertName));
}
