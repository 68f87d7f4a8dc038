using System.Security.Claims;
using System.Security.Cryptography;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using Microsoft.IdentityModel.JsonWebTokens;
using Microsoft.IdentityModel.Tokens;

namespace AspireAi.Tests.Auth;

// The issuer and the validation parameters the Api's JwtBearer scheme uses, checked against each other.
public sealed class AccessTokenIssuerTests
{
    private static readonly string Key = Convert.ToBase64String(RandomNumberGenerator.GetBytes(32));
    private static readonly CurrentUser User = new(Guid.CreateVersion7(), Guid.CreateVersion7(), AspireAiRoles.User, "ann@example.com");
    private static readonly AuthOptions Options = new() { SigningKey = Key };

    [Fact]
    public async Task An_issued_token_validates_to_the_same_user_and_session_with_a_15_minute_lifetime()
    {
        var now = DateTimeOffset.UtcNow;
        var issuer = Issuer(new ManualTimeProvider(now));
        var session = Guid.CreateVersion7();

        var issued = issuer.Issue(User, session);
        var result = await Validate(issued.Token);

        Assert.True(result.IsValid, result.Exception?.Message);
        var principal = new ClaimsPrincipal(result.ClaimsIdentity);
        Assert.Equal(User, principal.GetCurrentUser());
        Assert.Equal(session.ToString(), principal.FindFirstValue(AspireAiClaims.SessionId));
        Assert.False(principal.IsInRole(AspireAiRoles.Admin));
        var token = new JsonWebToken(issued.Token);
        Assert.Equal(("HS256", "JWT"), (token.Alg, token.Typ));
        Assert.Equal(("aspireai", "aspireai-api"), (token.Issuer, Assert.Single(token.Audiences)));
        var issuedAt = DateTimeOffset.FromUnixTimeSeconds(now.ToUnixTimeSeconds());
        Assert.Equal((issuedAt.UtcDateTime, issuedAt.UtcDateTime), (token.IssuedAt, token.ValidFrom));
        Assert.Equal(issuedAt.AddMinutes(15), issued.ExpiresAt);
        Assert.Equal(issued.ExpiresAt.UtcDateTime, token.ValidTo);
        Assert.NotEqual(token.Id, new JsonWebToken(issuer.Issue(User, session).Token).Id);
        Assert.Matches("^[0-9a-f]{32}$", token.Id);
    }

    [Fact]
    public async Task Expiry_is_enforced_with_30_seconds_of_clock_skew()
    {
        var lifetime = TimeSpan.FromMinutes(15);
        var justExpired = Issuer(new ManualTimeProvider(DateTimeOffset.UtcNow - lifetime - TimeSpan.FromSeconds(20))).Issue(User, Guid.NewGuid());
        var longExpired = Issuer(new ManualTimeProvider(DateTimeOffset.UtcNow - lifetime - TimeSpan.FromSeconds(40))).Issue(User, Guid.NewGuid());

        Assert.True((await Validate(justExpired.Token)).IsValid);
        Assert.IsType<SecurityTokenExpiredException>((await Validate(longExpired.Token)).Exception);
    }

    [Theory]
    [InlineData(SecurityAlgorithms.HmacSha384)]
    [InlineData(SecurityAlgorithms.HmacSha512)]
    public async Task Only_HS256_is_accepted_even_when_signed_with_our_key(string algorithm)
    {
        // A key long enough for HS384/HS512 too: with a 32-byte key they would fail on the key size alone.
        var longKey = new AuthOptions { SigningKey = Convert.ToBase64String(RandomNumberGenerator.GetBytes(64)) };
        var token = TestTokens.Create(longKey.SigningKey, User, algorithm: algorithm);

        var withoutPinning = AccessTokenIssuer.CreateValidationParameters(longKey);
        withoutPinning.ValidAlgorithms = null;

        Assert.False((await Validate(token, longKey)).IsValid);
        // The signature itself is good: the algorithm list is what refuses it.
        Assert.True((await new JsonWebTokenHandler().ValidateTokenAsync(token, withoutPinning)).IsValid);
        Assert.True((await Validate(TestTokens.Create(longKey.SigningKey, User), longKey)).IsValid);
    }

    private static AccessTokenIssuer Issuer(TimeProvider time) => new(Microsoft.Extensions.Options.Options.Create(Options), time);

    private static Task<TokenValidationResult> Validate(string token, AuthOptions? options = null) =>
        new JsonWebTokenHandler().ValidateTokenAsync(token, AccessTokenIssuer.CreateValidationParameters(options ?? Options));
}
