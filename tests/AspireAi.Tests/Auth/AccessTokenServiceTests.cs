using System.Security.Cryptography;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;

namespace AspireAi.Tests.Auth;

public sealed class AccessTokenServiceTests
{
    private static readonly string Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly CurrentUser User = new(Guid.CreateVersion7(), Guid.CreateVersion7(), AspireAiRoles.User, "ann@example.com");
    private const string Header = """{"alg":"HS256","typ":"JWT"}""";

    [Fact]
    public void An_issued_token_validates_to_the_same_user_with_a_15_minute_lifetime()
    {
        var clock = new ManualTimeProvider(new DateTimeOffset(2030, 1, 2, 3, 4, 5, 600, TimeSpan.Zero));
        var service = TestTokens.Service(Key, clock);

        var issued = service.Issue(User);
        var result = service.Validate(issued.Token);

        Assert.True(result.IsValid, result.Error);
        Assert.Equal(User, result.User);
        Assert.Equal(issued.TokenId, result.TokenId);
        Assert.Equal(new DateTimeOffset(2030, 1, 2, 3, 19, 5, TimeSpan.Zero), issued.ExpiresAt);
        Assert.Equal(issued.ExpiresAt, result.ExpiresAt);
        Assert.NotEqual(issued.TokenId, service.Issue(User).TokenId);
        var payload = TestTokens.Decode(issued.Token.Split('.')[1]);
        Assert.Contains("\"iss\":\"aspireai\"", payload, StringComparison.Ordinal);
        Assert.Equal(Header, TestTokens.Decode(issued.Token.Split('.')[0]));
    }

    [Fact]
    public void Expiry_is_enforced_with_30_seconds_of_clock_skew()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var service = TestTokens.Service(Key, clock);
        var token = service.Issue(User);

        clock.Now = token.ExpiresAt.AddSeconds(29);
        Assert.True(service.Validate(token.Token).IsValid);
        clock.Now = token.ExpiresAt.AddSeconds(30);
        Assert.Equal("token expired", service.Validate(token.Token).Error);
    }

    [Fact]
    public void A_token_issued_in_the_future_is_refused()
    {
        var clock = new ManualTimeProvider(DateTimeOffset.UtcNow);
        var token = TestTokens.Service(Key, new ManualTimeProvider(clock.Now.AddMinutes(5))).Issue(User).Token;

        Assert.Equal("token issued in the future", TestTokens.Service(Key, clock).Validate(token).Error);
    }

    [Theory]
    [InlineData("")]
    [InlineData("abc")]
    [InlineData("a.b")]
    [InlineData("a.b.c.d")]
    [InlineData(".b.c")]
    [InlineData("a..c")]
    [InlineData("a.b.")]
    [InlineData("!!!.???.***")]
    public void Malformed_tokens_are_refused_without_throwing(string token)
    {
        Assert.False(TestTokens.Service(Key).Validate(token).IsValid);
    }

    [Fact]
    public void An_oversized_token_is_refused_before_any_work()
    {
        var token = TestTokens.Sign(Key, Header, TestTokens.Payload(User).Replace("ann@", new string('a', 5000) + "@", StringComparison.Ordinal));

        Assert.Equal("malformed token", TestTokens.Service(Key).Validate(token).Error);
    }

    [Theory]
    [InlineData("""{"alg":"none"}""")]
    [InlineData("""{"alg":"None","typ":"JWT"}""")]
    [InlineData("""{"alg":"HS384","typ":"JWT"}""")]
    [InlineData("""{"alg":"RS256","typ":"JWT"}""")]
    [InlineData("""{"alg":"HS256","typ":"JWS"}""")]
    [InlineData("""{"alg":"HS256","crit":["exp"]}""")]
    [InlineData("""{"alg":["HS256"]}""")]
    [InlineData("""["HS256"]""")]
    [InlineData("""not json""")]
    public void Headers_other_than_HS256_are_refused_even_with_a_valid_signature(string header)
    {
        var token = TestTokens.Sign(Key, header, TestTokens.Payload(User));

        Assert.StartsWith("unsupported token header", TestTokens.Service(Key).Validate(token).Error, StringComparison.Ordinal);
    }

    [Fact]
    public void A_header_without_typ_is_accepted_when_signed()
    {
        var token = TestTokens.Sign(Key, """{"alg":"HS256"}""", TestTokens.Payload(User));

        Assert.True(TestTokens.Service(Key).Validate(token).IsValid);
    }

    [Fact]
    public void Signature_payload_and_claims_are_all_checked()
    {
        var service = TestTokens.Service(Key);
        var token = service.Issue(User).Token;
        var parts = token.Split('.');
        var flipped = parts[2][..^2] + (parts[2][^2] == 'A' ? 'B' : 'A') + parts[2][^1];

        Assert.Equal("bad signature", service.Validate($"{parts[0]}.{parts[1]}.{flipped}").Error);
        Assert.Equal("bad signature", service.Validate($"{parts[0]}.{parts[1]}.{parts[2]}AA").Error);
        Assert.Equal("bad signature", TestTokens.Service(Convert.ToBase64String(RandomNumberGenerator.GetBytes(32))).Validate(token).Error);
        Assert.Equal("bad signature", service.Validate(TestTokens.ReplacePayload(token, p => p.Replace("ann@", "bob@", StringComparison.Ordinal))).Error);
        Assert.Equal("missing or invalid claims", service.Validate(TestTokens.Sign(Key, Header, TestTokens.Payload(User, role: "root"))).Error);
        Assert.Equal("missing or invalid claims", service.Validate(TestTokens.Sign(Key, Header, TestTokens.Payload(User, issuer: "other"))).Error);
        Assert.Equal("missing or invalid claims", service.Validate(TestTokens.Sign(Key, Header, """{"iss":"aspireai","sub":"x"}""")).Error);
        Assert.Equal("malformed payload", service.Validate(TestTokens.Sign(Key, Header, "{not json")).Error);
    }

    [Fact]
    public void A_token_names_its_session_and_a_malformed_session_claim_is_refused()
    {
        var service = TestTokens.Service(Key);
        var session = Guid.CreateVersion7();

        Assert.Equal(session, service.Validate(service.Issue(User, session).Token).SessionId);
        Assert.Null(service.Validate(service.Issue(User).Token).SessionId);
        var forged = TestTokens.Sign(Key, Header, TestTokens.Payload(User).Replace("\"iat\"", "\"sid\":\"not-a-session\",\"iat\"", StringComparison.Ordinal));
        Assert.Equal("invalid session claim", service.Validate(forged).Error);
    }
}
