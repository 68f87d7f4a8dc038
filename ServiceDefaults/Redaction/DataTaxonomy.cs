using Microsoft.Extensions.Compliance.Classification;

namespace AspireAi.ServiceDefaults;

/// <summary>
/// What logs and traces must not carry in clear, by kind. A <c>[LoggerMessage]</c> parameter marked with one of the
/// attributes below is redacted before any log provider sees it (see <see cref="TelemetryRedaction"/>); a span tag
/// that could hold such data is written through the same redactors.
/// </summary>
public static class DataTaxonomy
{
    public const string Name = "AspireAi";

    /// <summary>Who a person is: e-mail addresses, names, end-user ids a client sends.</summary>
    public static DataClassification PersonalData { get; } = new(Name, nameof(PersonalData));

    /// <summary>What users wrote or uploaded: messages, memories, documents, search queries.</summary>
    public static DataClassification UserContent { get; } = new(Name, nameof(UserContent));

    /// <summary>Passwords, tokens, API keys, provider and master keys: erased always, content capture or not.</summary>
    public static DataClassification SecretData { get; } = new(Name, nameof(SecretData));
}

/// <summary>The value identifies a person (<see cref="DataTaxonomy.PersonalData"/>).</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.ReturnValue)]
public sealed class PersonalDataAttribute() : DataClassificationAttribute(DataTaxonomy.PersonalData);

/// <summary>The value is something a user wrote or uploaded (<see cref="DataTaxonomy.UserContent"/>).</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.ReturnValue)]
public sealed class UserContentAttribute() : DataClassificationAttribute(DataTaxonomy.UserContent);

/// <summary>The value is a credential (<see cref="DataTaxonomy.SecretData"/>).</summary>
[AttributeUsage(AttributeTargets.Parameter | AttributeTargets.Property | AttributeTargets.Field | AttributeTargets.ReturnValue)]
public sealed class SecretDataAttribute() : DataClassificationAttribute(DataTaxonomy.SecretData);
