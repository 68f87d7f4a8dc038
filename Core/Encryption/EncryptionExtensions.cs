using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Hosting;

namespace AspireAi.Core.Encryption;

public static class EncryptionExtensions
{
    /// <summary>
    /// Encryption at rest of message, memory and chunk text: the master key ring, the data keys and the cipher. The
    /// options (section "Encryption") are validated on start, so a missing or short master key stops the host with a
    /// message saying what to set. Registers once, however often it is called (every feature that stores text does).
    /// </summary>
    public static IHostApplicationBuilder AddEncryption(this IHostApplicationBuilder builder)
    {
        ArgumentNullException.ThrowIfNull(builder);
        var services = builder.Services;
        if (services.Any(d => d.ServiceType == typeof(FieldCipher)))
        {
            return builder;
        }
        services.AddOptions<EncryptionOptions>().BindConfiguration(EncryptionOptions.SectionName).ValidateDataAnnotations().ValidateOnStart();
        services.TryAddSingleton(TimeProvider.System);
        services.AddSingleton<MasterKeyRing>();
        services.AddSingleton<DataKeyStore>();
        services.AddSingleton<FieldCipher>();
        services.AddSingleton<KeyRotation>();
        return builder;
    }
}
