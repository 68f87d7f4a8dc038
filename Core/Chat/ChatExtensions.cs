using AspireAi.Core.Encryption;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Chat;

public static class ChatExtensions
{
    /// <summary>Conversations, prompts, the usage ledger and the chat exchange itself.</summary>
    public static IHostApplicationBuilder AddChat(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.AddEncryption();
        builder.Services.AddOptions<ChatSettings>().BindConfiguration(ChatSettings.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.AddOptions<PricingSettings>().BindConfiguration(PricingSettings.SectionName);
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<ConversationStore>();
        builder.AddPromptRollouts();
        builder.Services.AddSingleton<UsageLedger>();
        builder.Services.AddSingleton<ExactResponseCache>();
        builder.Services.AddSingleton<MessageTokenCounts>();
        builder.Services.AddSingleton<ChatService>();
        builder.Services.AddSingleton<IChatToolProvider, BuiltInTools>();
        builder.Services.AddSingleton<MessageFeedbackStore>();
        return builder;
    }

    /// <summary>Prompt versions and their staged rollouts (the Api serves them; the Workers sweep them).</summary>
    public static IHostApplicationBuilder AddPromptRollouts(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        builder.Services.AddOptions<PromptRolloutOptions>().BindConfiguration(PromptRolloutOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.TryAddSingleton<PromptStore>();
        builder.Services.TryAddSingleton<PromptRollouts>();
        return builder;
    }
}
