namespace AspireAi.Api.OpenAiCompat;

internal static class OpenAiCompatExtensions
{
    /// <summary>The OpenAI-compatible endpoints' error format for what the shared pipeline refuses (see <see cref="OpenAiProblemWriter"/>).</summary>
    public static IHostApplicationBuilder AddOpenAiCompat(this IHostApplicationBuilder builder)
    {
        // ProblemDetailsService asks its writers in registration order and uses the first that accepts: this one goes
        // first, and accepts only the OpenAI-compatible paths.
        builder.Services.Insert(0, ServiceDescriptor.Singleton<IProblemDetailsWriter, OpenAiProblemWriter>());
        return builder;
    }
}
