using System.Security.Claims;
using AspireAi.Core.Identity;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace AspireAi.Tests.Auth;

public sealed class AuthOptionsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Theory]
    [InlineData("", "Auth:SigningKey is not set")]
    [InlineData("c2hvcnQ=", "Auth:SigningKey is 5 bytes long; it must be at least 32")]
    [InlineData("not base64 at all!", "Auth:SigningKey must be base64")]
    public async Task The_Api_refuses_to_start_without_a_usable_signing_key(string key, string message)
    {
        await using var misconfigured = factory.WithSettings(new Dictionary<string, string?> { ["Auth:SigningKey"] = key });

        var error = Assert.ThrowsAny<Exception>(() => misconfigured.CreateClient());

        var validation = Assert.IsType<OptionsValidationException>(error is AggregateException a ? a.InnerExceptions.Single() : error);
        Assert.Contains(message, validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Code_defaults_match_the_documented_ones()
    {
        var options = new AuthOptions();

        Assert.Equal(("aspireai", 15, 30, 5, 20, 15), (options.Issuer, options.AccessTokenMinutes, options.RefreshTokenDays,
            options.MaxLoginFailuresPerAccount, options.MaxLoginFailuresPerIp, options.LoginWindowMinutes));
        Assert.Null(options.AllowRegistration);
    }

    [Fact]
    public void Registration_defaults_to_open_in_Development_when_not_configured()
    {
        var options = factory.Services.GetRequiredService<IOptions<AuthOptions>>().Value;

        Assert.True(options.AllowRegistration);
    }

    [Fact]
    public void The_current_user_round_trips_through_a_principal_and_anonymous_principals_are_refused()
    {
        var admin = new CurrentUser(Guid.NewGuid(), Guid.NewGuid(), AspireAiRoles.Admin, "root@example.com");

        var principal = admin.ToClaimsPrincipal("Bearer", new Claim(AspireAiClaims.TokenId, "abc"));

        Assert.Equal(admin, principal.GetCurrentUser());
        Assert.True(principal.GetCurrentUser().IsAdmin);
        Assert.True(principal.IsInRole(AspireAiRoles.Admin));
        Assert.Equal("abc", principal.FindFirstValue(AspireAiClaims.TokenId));
        Assert.False(new CurrentUser(Guid.NewGuid(), Guid.NewGuid(), AspireAiRoles.User, "u@example.com").IsAdmin);
        Assert.Throws<InvalidOperationException>(() => new ClaimsPrincipal(new ClaimsIdentity()).GetCurrentUser());
        Assert.False(new ClaimsPrincipal(new ClaimsIdentity([new Claim(AspireAiClaims.UserId, "nope")], "Bearer")).TryGetCurrentUser(out _));
    }
}
