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
    public void An_unusable_signing_key_fails_validation_with_a_clear_message(string key, string message)
    {
        // The same validation the Api runs on start (ValidateOnStart). Checked on a plain container: booting the
        // whole Api only to watch it fail made the failure race its own shutdown (ObjectDisposedException).
        var services = new ServiceCollection();
        services.AddOptions<AuthOptions>().Configure(o => o.SigningKey = key).ValidateDataAnnotations();
        using var provider = services.BuildServiceProvider();

        var validation = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AuthOptions>>().Value);
        Assert.Contains(message, validation.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(nameof(AuthOptions.Issuer))]
    [InlineData(nameof(AuthOptions.Audience))]
    public void An_empty_issuer_or_audience_fails_validation(string property)
    {
        var services = new ServiceCollection();
        services.AddOptions<AuthOptions>().Configure(o =>
        {
            o.SigningKey = Convert.ToBase64String(new byte[32]);
            typeof(AuthOptions).GetProperty(property)!.SetValue(o, "");
        }).ValidateDataAnnotations();
        using var provider = services.BuildServiceProvider();

        var validation = Assert.Throws<OptionsValidationException>(() => provider.GetRequiredService<IOptions<AuthOptions>>().Value);
        Assert.Contains(property, validation.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Code_defaults_match_the_documented_ones()
    {
        var options = new AuthOptions();

        Assert.Equal(("aspireai", "aspireai-api", 30), (options.Issuer, options.Audience, options.ClockSkewSeconds));
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
