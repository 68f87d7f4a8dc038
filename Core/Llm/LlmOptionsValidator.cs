using System.ComponentModel.DataAnnotations;
using Microsoft.Extensions.Options;

namespace AspireAi.Core.Llm;

/// <summary>
/// Rules DataAnnotations cannot express: which fields each provider needs, and the nested sections
/// (ValidateDataAnnotations does not descend into <see cref="LlmOptions.ToolLoop"/> and friends).
/// </summary>
public sealed class LlmOptionsValidator : IValidateOptions<LlmOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, LlmOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();

        ValidateProvider(options, LlmOptions.SectionName, errors);
        ValidateNested(options.ToolLoop, $"{LlmOptions.SectionName}:{nameof(LlmOptions.ToolLoop)}", errors);
        ValidateNested(options.Offline, $"{LlmOptions.SectionName}:{nameof(LlmOptions.Offline)}", errors);

        var embeddingProvider = options.ResolveEmbeddingProvider();
        if (!Enum.IsDefined(embeddingProvider))
        {
            errors.Add($"Llm:EmbeddingProvider '{embeddingProvider}' is not one of {string.Join(", ", Enum.GetNames<LlmProvider>())}.");
        }
        else if (embeddingProvider != LlmProvider.Offline)
        {
            // Embeddings reuse the primary server's endpoint and key, so only "same as chat" or Offline make sense.
            if (embeddingProvider != options.Provider)
            {
                errors.Add("Llm:EmbeddingProvider must be Offline or the same as Llm:Provider.");
            }
            else if (embeddingProvider is LlmProvider.AzureOpenAI or LlmProvider.OpenAICompatible && string.IsNullOrWhiteSpace(options.EmbeddingModel))
            {
                errors.Add($"Llm:EmbeddingModel is required for provider {embeddingProvider} (or set Llm:EmbeddingProvider to Offline).");
            }
        }

        if (options.Fallback is { } fallback)
        {
            ValidateProvider(fallback, $"{LlmOptions.SectionName}:{nameof(LlmOptions.Fallback)}", errors);
        }

        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void ValidateProvider(LlmProviderOptions options, string section, List<string> errors)
    {
        if (!Enum.IsDefined(options.Provider))
        {
            errors.Add($"{section}:Provider '{options.Provider}' is not one of {string.Join(", ", Enum.GetNames<LlmProvider>())}.");
            return;
        }

        switch (options.Provider)
        {
            case LlmProvider.OpenAI:
                RequireKey(options, section, errors);
                break;
            case LlmProvider.AzureOpenAI:
                RequireKey(options, section, errors);
                RequireModel(options, section, errors, "the deployment name");
                if (RequireEndpoint(options, section, errors)
                    && !options.Endpoint!.AbsolutePath.TrimEnd('/').EndsWith("/openai/v1", StringComparison.OrdinalIgnoreCase))
                {
                    errors.Add($"{section}:Endpoint must be Azure OpenAI's v1 endpoint, e.g. https://my-resource.openai.azure.com/openai/v1/.");
                }
                break;
            case LlmProvider.OpenAICompatible:
                RequireModel(options, section, errors, "the model name the server knows");
                RequireEndpoint(options, section, errors);
                break;
            case LlmProvider.Offline:
            default:
                break;
        }

        if (options.Endpoint is { } endpoint && options.Provider == LlmProvider.OpenAI && !IsHttp(endpoint))
        {
            errors.Add($"{section}:Endpoint must be an absolute http(s) URL.");
        }
    }

    private static void RequireKey(LlmProviderOptions options, string section, List<string> errors)
    {
        if (string.IsNullOrWhiteSpace(options.ApiKey))
        {
            errors.Add($"{section}:ApiKey is required for provider {options.Provider}.");
        }
    }

    private static void RequireModel(LlmProviderOptions options, string section, List<string> errors, string what)
    {
        if (string.IsNullOrWhiteSpace(options.ChatModel))
        {
            errors.Add($"{section}:ChatModel ({what}) is required for provider {options.Provider}.");
        }
    }

    private static bool RequireEndpoint(LlmProviderOptions options, string section, List<string> errors)
    {
        if (options.Endpoint is null)
        {
            errors.Add($"{section}:Endpoint is required for provider {options.Provider}.");
            return false;
        }

        if (!IsHttp(options.Endpoint))
        {
            errors.Add($"{section}:Endpoint must be an absolute http(s) URL.");
            return false;
        }

        return true;
    }

    private static bool IsHttp(Uri uri) =>
        uri.IsAbsoluteUri && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);

    private static void ValidateNested(object value, string section, List<string> errors)
    {
        var results = new List<ValidationResult>();
        if (!Validator.TryValidateObject(value, new ValidationContext(value), results, validateAllProperties: true))
        {
            errors.AddRange(results.Select(result => $"{section}: {result.ErrorMessage}"));
        }
    }
}
