using System.Net;
using AspireAi.Core.Identity;
using AspireAi.Tests.Infrastructure;
using AspireAi.Tests.Redis;

namespace AspireAi.Tests.Auth;

public sealed class LoginThrottleTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string WrongPassword = "wrong-password-123";

    [Fact]
    public async Task Failures_from_elsewhere_never_lock_the_owner_out_they_only_slow_the_account_down()
    {
        var (_, user) = await factory.CreateUserClientAsync();

        for (var i = 0; i < 5; i++)
        {
            // A new client (so a new address) each time: the attack the per-account budget used to turn into a lockout.
            using var failed = await factory.CreateClient().TokenAsync(user.Email, WrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }
        using var owner = await factory.CreateClient().TokenAsync(user.Email, user.Password);
        using var ownerOtherCase = await factory.CreateClient().TokenAsync(user.Email.ToUpperInvariant(), user.Password);

        Assert.Equal((HttpStatusCode.OK, HttpStatusCode.OK), (owner.StatusCode, ownerOtherCase.StatusCode));
        // Both sign-ins waited: the account collected 5 failures from everywhere (the first step is 1 s).
        Assert.Equal(2L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.login_succeeded' AND target_id = $1 AND details->>'slowed_ms' = '1000'",
            user.Id.ToString()));
        Assert.Equal(5L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.login_failed' AND target_id = $1 AND details->>'reason' = 'wrong_password'",
            user.Id.ToString()));
        // Redis holds hashes of the account (and of account + address), never the email itself.
        await using var redis = await RedisTestClients.ConnectAsync(factory.Servers.RedisConnectionString);
        var keys = await RedisTestClients.KeysAsync(redis, "auth:login:*");
        Assert.Contains(LoginThrottle.AccountKey(user.Email), keys);
        Assert.All(keys, key => Assert.DoesNotContain("@", key, StringComparison.Ordinal));
    }

    [Fact]
    public async Task After_5_failures_one_address_is_refused_for_that_account_while_other_addresses_sign_in()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        using var attacker = factory.CreateClient(ApiFactory.NewClientAddress());

        for (var i = 0; i < 5; i++)
        {
            using var failed = await attacker.TokenAsync(user.Email, WrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }
        using var throttled = await attacker.TokenAsync(user.Email, user.Password);
        using var otherCase = await attacker.TokenAsync(user.Email.ToUpperInvariant(), user.Password);
        using var owner = await factory.CreateClient().TokenAsync(user.Email, user.Password);

        var problem = await throttled.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal("Too many failed sign-in attempts.", problem.GetProperty("title").GetString());
        var retryAfter = throttled.Headers.RetryAfter?.Delta;
        Assert.NotNull(retryAfter);
        Assert.InRange(retryAfter.Value, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15));
        await otherCase.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        Assert.Equal(2L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.login_throttled' AND details->>'ip' = $1",
            attacker.DefaultRequestHeaders.GetValues(ApiFactory.ClientAddressHeader).Single()));
    }

    [Fact]
    public void The_slowdown_doubles_per_failure_over_the_threshold_up_to_its_cap()
    {
        var settings = new AuthOptions();

        Assert.Equal(
            [0, 1, 2, 4, 8, 10, 10],
            new long[] { 4, 5, 6, 7, 8, 9, 1000 }.Select(failures => (int)LoginThrottle.Slowdown(failures, settings).TotalSeconds));
    }

    [Fact]
    public async Task After_20_failures_an_address_is_throttled_for_every_account_but_other_addresses_are_not()
    {
        var address = ApiFactory.NewClientAddress();
        using var client = factory.CreateClient(address);
        var (_, victim) = await factory.CreateUserClientAsync();

        // 4 failures each on 5 accounts: no account reaches its own limit of 5.
        for (var account = 0; account < 5; account++)
        {
            var email = ApiFactory.NewEmail("spray");
            for (var i = 0; i < 4; i++)
            {
                using var failed = await client.TokenAsync(email, WrongPassword);
                Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
            }
        }
        using var throttled = await client.TokenAsync(victim.Email, victim.Password);
        using var elsewhere = await factory.CreateClient().TokenAsync(victim.Email, victim.Password);

        await throttled.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.NotNull(throttled.Headers.RetryAfter?.Delta);
        Assert.Equal(HttpStatusCode.OK, elsewhere.StatusCode);
    }

    [Fact]
    public async Task Successful_sign_ins_do_not_count_against_the_limits()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        using var client = factory.CreateClient();

        for (var i = 0; i < 8; i++)
        {
            using var response = await client.TokenAsync(user.Email, user.Password);
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
    }

    [Fact]
    public async Task With_Redis_down_sign_in_still_works_and_failures_are_still_limited_in_process()
    {
        var redis = await TestServers.StartPrivateRedisAsync();
        await using var isolated = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
        });
        var (_, user) = await isolated.CreateUserClientAsync();
        using var client = isolated.CreateClient();

        await redis.StopAsync();

        using (var signIn = await client.TokenAsync(user.Email, user.Password))
        {
            Assert.Equal(HttpStatusCode.OK, signIn.StatusCode);
        }
        for (var i = 0; i < 5; i++)
        {
            using var failed = await client.TokenAsync(user.Email, WrongPassword);
            Assert.Equal(HttpStatusCode.Unauthorized, failed.StatusCode);
        }
        using var throttled = await client.TokenAsync(user.Email, user.Password);
        await throttled.ReadProblemAsync(HttpStatusCode.TooManyRequests);
        Assert.NotNull(throttled.Headers.RetryAfter?.Delta);
    }
}
