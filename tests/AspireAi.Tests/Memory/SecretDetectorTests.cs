using AspireAi.Core.Common;
using AspireAi.Core.Memory;

namespace AspireAi.Tests.Memory;

public sealed class SecretDetectorTests
{
    [Theory]
    [InlineData("my key is sk-proj-AbCdEfGhIjKlMnOpQrStUvWx", "api_key")]
    [InlineData("AKIAIOSFODNN7EXAMPLE is the access key", "api_key")]
    [InlineData("token ghp_0123456789abcdefghijABCDEFGHIJ012345", "api_key")]
    [InlineData("use sk_live_4eC39HqLyjWDarjtT1zdp7dc for payments", "api_key")]
    [InlineData("My password is hunter2", "password")]
    [InlineData("the wifi passcode: 88442211", "password")]
    [InlineData("My PIN is 4821", "password")]
    [InlineData("password for gmail is Tr0ub4dor&3", "password")]
    [InlineData("api_key = abcdef1234567890", "credential_assignment")]
    [InlineData("Authorization: Bearer abcdefghijklmnopqrstuvwxyz123456", "bearer_token")]
    [InlineData("eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U", "jwt")]
    [InlineData("-----BEGIN RSA PRIVATE KEY-----", "private_key")]
    [InlineData("My SSN is 123-45-6789", "national_id")]
    [InlineData("IBAN DE89 3704 0044 0532 0130 00", "iban")]
    public void Secrets_are_recognised(string text, string kind) => Assert.Equal(kind, SecretDetector.Find(text));

    [Theory]
    [InlineData("4111 1111 1111 1111")]
    [InlineData("5500-0000-0000-0004")]
    [InlineData("my card is 378282246310005")]
    public void Card_numbers_passing_luhn_are_secrets(string text) => Assert.Equal("card_number", SecretDetector.Find(text));

    [Theory]
    [InlineData("4111 1111 1111 1112")]
    [InlineData("Order 1234567890123 shipped")]
    public void Digit_runs_failing_luhn_are_not_card_numbers(string text) => Assert.Null(SecretDetector.Find(text));

    [Theory]
    [InlineData("Works at Acme Corp")]
    [InlineData("Prefers password managers")]
    [InlineData("Uses 1Password")]
    [InlineData("Has two kids born in 2015 and 2018")]
    [InlineData("Always use TypeScript for code examples")]
    [InlineData("Is in the billing team")]
    public void Ordinary_facts_are_not_secrets(string text) => Assert.Null(SecretDetector.Find(text));

    [Fact]
    public void Redaction_keeps_the_words_around_the_secret()
    {
        var redacted = SecretDetector.Redact("I work at Initech and my password is hunter2, card 4111 1111 1111 1111.");

        Assert.DoesNotContain("hunter2", redacted, StringComparison.Ordinal);
        Assert.DoesNotContain("4111", redacted, StringComparison.Ordinal);
        Assert.Contains("I work at Initech", redacted, StringComparison.Ordinal);
        Assert.Contains("password is [redacted]", redacted, StringComparison.Ordinal);
        Assert.True(SecretDetector.ContainsSecret(redacted)); // a fact quoting the placeholder is never stored
    }

    [Theory]
    [InlineData("Don't remember this: I'm interviewing at Globex", true)]
    [InlineData("please do not store that", true)]
    [InlineData("This is off the record, but I hate my job", true)]
    [InlineData("Keep this between us", true)]
    [InlineData("Never save any of this", true)]
    [InlineData("I don't keep a diary", false)]
    [InlineData("Forget that I use Stripe", false)]
    [InlineData("Remember that I like tea", false)]
    public void Opt_out_requests_are_recognised(string text, bool optOut) => Assert.Equal(optOut, SecretDetector.IsOptOut(text));
}
