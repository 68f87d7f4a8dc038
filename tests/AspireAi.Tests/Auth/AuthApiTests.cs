using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using AspireAi.Tests.Infrastructure;
using Microsoft.AspNetCore.Hosting;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Npgsql;
using StackExchange.Redis;

namespace AspireAi.Tests.Auth;

public sealed class AuthApiTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private const string Password = "correct horse battery";

    [Fact]
    public async Task Register_creates_a_user_with_role_user_in_the_default_org_and_audits_it()
    {
        using var client = factory.CreateClient();
        var email = ApiFactory.NewEmail("Register");

        using var response = await client.RegisterAsync(email, Password, "  Ada Lovelace ");

        Assert.Equal(HttpStatusCode.Accepted, response.StatusCode);
        var body = await response.ReadJsonAsync();
        Assert.Equal(email, body.GetProperty("email").GetString());
        Assert.Equal(["email", "message"], body.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        var id = await factory.ScalarAsync<Guid>("SELECT id FROM users WHERE email = $1", email);
        Assert.Equal("Ada Lovelace", await factory.ScalarAsync<string>("SELECT display_name FROM users WHERE id = $1", id));

        await using var command = factory.DataSource.CreateCommand("""
            SELECT u.email, u.role, o.name, u.password_hash, u.disabled_at IS NULL
            FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1
            """);
        command.Parameters.Add(new() { Value = id });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync());
        Assert.Equal(email, reader.GetString(0));
        Assert.Equal("user", reader.GetString(1));
        Assert.Equal("default", reader.GetString(2));
        Assert.NotEqual(Password, reader.GetString(3));
        Assert.True(AdminSeeder.VerifyPassword(reader.GetString(3), Password));
        Assert.True(reader.GetBoolean(4));
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.registered' AND target_id = $1", id.ToString()));
    }

    [Fact]
    public async Task Me_names_the_caller_and_their_role_and_needs_a_token()
    {
        var (userClient, user) = await factory.CreateUserClientAsync();
        var (adminClient, admin) = await factory.CreateAdminClientAsync();
        using var anonymous = factory.CreateClient();

        var me = await userClient.GetFromJsonAsync<JsonElement>("/v1/auth/me");
        var adminMe = await adminClient.GetFromJsonAsync<JsonElement>("/v1/auth/me");
        using var refused = await anonymous.GetAsync("/v1/auth/me");

        Assert.Equal((user.Id, user.OrgId, user.Email, "user"),
            (me.GetProperty("id").GetGuid(), me.GetProperty("orgId").GetGuid(), me.GetProperty("email").GetString(), me.GetProperty("role").GetString()));
        Assert.Equal((admin.Id, "admin"), (adminMe.GetProperty("id").GetGuid(), adminMe.GetProperty("role").GetString()));
        Assert.Equal(HttpStatusCode.Unauthorized, refused.StatusCode);
    }

    [Fact]
    public async Task Register_rejects_invalid_input_with_errors_naming_each_field()
    {
        using var client = factory.CreateClient();

        using var invalid = await client.RegisterAsync("not-an-email", "too-short", "");
        using var empty = await client.PostAsJsonAsync("/v1/auth/register", new { });
        using var tooLong = await client.RegisterAsync(ApiFactory.NewEmail(), Password, new string('x', 101));

        Assert.Equal(["displayName", "email", "password"], await invalid.ReadValidationErrorKeysAsync());
        Assert.Equal(["displayName", "email", "password"], await empty.ReadValidationErrorKeysAsync());
        Assert.Equal(["displayName"], await tooLong.ReadValidationErrorKeysAsync());
    }

    [Fact]
    public async Task Register_answers_a_known_email_in_any_letter_case_exactly_like_a_new_one_and_changes_nothing()
    {
        using var client = factory.CreateClient();
        var email = ApiFactory.NewEmail("dup");
        using var first = await client.RegisterAsync(email);
        var firstBody = await first.ReadJsonAsync();

        using var second = await client.RegisterAsync(email.ToUpperInvariant(), "another password!");

        // Same status, same body shape and message: the answer does not tell whether the address had an account.
        Assert.Equal((HttpStatusCode.Accepted, HttpStatusCode.Accepted), (first.StatusCode, second.StatusCode));
        var secondBody = await second.ReadJsonAsync();
        Assert.Equal(firstBody.GetProperty("message").GetString(), secondBody.GetProperty("message").GetString());
        Assert.Equal(email.ToUpperInvariant(), secondBody.GetProperty("email").GetString());
        Assert.Null(second.Headers.Location);
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM users WHERE lower(email) = lower($1)", email));
        // The owner's password still signs in; the second one does not.
        using (var owner = await client.TokenAsync(email, "correct horse battery"))
        {
            Assert.Equal(HttpStatusCode.OK, owner.StatusCode);
        }
        using (var stranger = await client.TokenAsync(email, "another password!"))
        {
            Assert.Equal(HttpStatusCode.Unauthorized, stranger.StatusCode);
        }
        var id = await factory.ScalarAsync<Guid>("SELECT id FROM users WHERE lower(email) = lower($1)", email);
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.register_existing' AND target_id = $1", id.ToString()));
    }

    [Fact]
    public async Task Register_answers_403_when_registration_is_disabled()
    {
        await using var closed = factory.WithWebHostBuilder(builder => builder.ConfigureAppConfiguration((_, config) =>
            config.AddInMemoryCollection(new Dictionary<string, string?> { ["Auth:AllowRegistration"] = "false" })));
        using var client = closed.CreateClient();
        var email = ApiFactory.NewEmail();

        using var response = await client.RegisterAsync(email);

        var problem = await response.ReadProblemAsync(HttpStatusCode.Forbidden);
        Assert.Equal("Registration is disabled.", problem.GetProperty("title").GetString());
        Assert.Equal(0L, await factory.ScalarAsync<long>("SELECT count(*) FROM users WHERE email = $1", email));
    }

    [Fact]
    public async Task Registration_is_closed_by_default_outside_Development()
    {
        await using var production = factory.WithWebHostBuilder(builder => builder.UseEnvironment("Production"));
        using var client = production.CreateClient();

        using var response = await client.RegisterAsync(ApiFactory.NewEmail());

        await response.ReadProblemAsync(HttpStatusCode.Forbidden);
    }

    [Fact]
    public async Task Token_issues_a_bearer_pair_that_authenticates_and_stores_only_the_refresh_token_hash()
    {
        using var client = factory.CreateClient();
        var email = ApiFactory.NewEmail();
        using (var registered = await client.RegisterAsync(email, Password))
        {
            Assert.Equal(HttpStatusCode.Accepted, registered.StatusCode);
        }

        // Email lookup is case-insensitive, as uniqueness is.
        using var response = await client.TokenAsync(email.ToUpperInvariant(), Password);

        var tokens = await response.ReadTokensAsync();
        Assert.Equal("Bearer", tokens.TokenType);
        Assert.InRange(tokens.ExpiresIn, 15 * 60 - 2, 15 * 60);
        Assert.InRange(tokens.RefreshExpiresIn, 30 * 86400 - 5, 30 * 86400 + 5);
        Assert.Contains("no-store", response.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        Assert.Equal(3, tokens.AccessToken.Split('.').Length);

        using var authenticated = await client.GetWithBearerAsync("/v1/api-keys", tokens.AccessToken);
        Assert.Equal(HttpStatusCode.OK, authenticated.StatusCode);

        await using var command = factory.DataSource.CreateCommand("""
            SELECT t.family_id IS NOT NULL, t.revoked_at IS NULL, t.created_ip, t.expires_at > now() + interval '29 days'
            FROM refresh_tokens t JOIN users u ON u.id = t.user_id
            WHERE u.email = $1 AND t.token_hash = $2
            """);
        command.Parameters.Add(new() { Value = email });
        command.Parameters.Add(new() { Value = AuthTestExtensions.Sha256(tokens.RefreshToken) });
        await using var reader = await command.ExecuteReaderAsync();
        Assert.True(await reader.ReadAsync(), "the refresh token's SHA-256 is stored");
        Assert.True(reader.GetBoolean(0));
        Assert.True(reader.GetBoolean(1));
        Assert.Equal(client.DefaultRequestHeaders.GetValues(ApiFactory.ClientAddressHeader).Single(), reader.GetString(2));
        Assert.True(reader.GetBoolean(3));
        Assert.Equal(0L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM refresh_tokens WHERE token_hash = convert_to($1, 'UTF8')", tokens.RefreshToken));
        Assert.Equal(1L, await factory.ScalarAsync<long>("""
            SELECT count(*) FROM audit_log a JOIN users u ON a.target_id = u.id::text
            WHERE u.email = $1 AND a.action = 'auth.login_succeeded'
            """, email));
    }

    [Fact]
    public async Task Token_validation_errors_name_the_fields()
    {
        using var client = factory.CreateClient();

        using var response = await client.PostAsJsonAsync("/v1/auth/token", new { email = "" });

        Assert.Equal(["email", "password"], await response.ReadValidationErrorKeysAsync());
    }

    [Fact]
    public async Task Unknown_email_wrong_password_and_disabled_account_get_the_same_401_and_are_audited_without_the_password()
    {
        var (_, user) = await factory.CreateUserClientAsync();
        var (_, disabled) = await factory.CreateUserClientAsync();
        await using (var disable = factory.DataSource.CreateCommand("UPDATE users SET disabled_at = now() WHERE id = $1"))
        {
            disable.Parameters.Add(new() { Value = disabled.Id });
            await disable.ExecuteNonQueryAsync();
        }
        using var client = factory.CreateClient();
        const string wrongPassword = "definitely-not-it-4711";

        using var wrong = await client.TokenAsync(user.Email, wrongPassword);
        using var unknown = await client.TokenAsync(ApiFactory.NewEmail("nobody"), wrongPassword);
        using var disabledResponse = await client.TokenAsync(disabled.Email, disabled.Password);

        var bodies = new List<string>();
        foreach (var response in new[] { wrong, unknown, disabledResponse })
        {
            var problem = await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
            Assert.Equal("Invalid email or password.", problem.GetProperty("title").GetString());
            Assert.Null(response.Headers.RetryAfter);
            bodies.Add(WithoutTraceId(problem));
        }
        Assert.Single(bodies.Distinct());

        await using var command = factory.DataSource.CreateCommand("""
            SELECT details::text FROM audit_log WHERE action = 'auth.login_failed' AND target_id = ANY($1)
            """);
        command.Parameters.Add(new() { Value = new[] { user.Id.ToString(), disabled.Id.ToString() } });
        var details = new List<string>();
        await using (var reader = await command.ExecuteReaderAsync())
        {
            while (await reader.ReadAsync())
            {
                details.Add(reader.GetString(0));
            }
        }
        Assert.Equal(2, details.Count);
        Assert.Contains(details, d => d.Contains("wrong_password", StringComparison.Ordinal));
        Assert.Contains(details, d => d.Contains("disabled", StringComparison.Ordinal));
        Assert.All(details, d => Assert.DoesNotContain(wrongPassword, d, StringComparison.Ordinal));
        Assert.All(details, d => Assert.DoesNotContain(disabled.Password, d, StringComparison.Ordinal));
    }

    [Fact]
    public async Task Refresh_rotates_the_pair_and_the_old_refresh_token_stops_working()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var refreshed = await client.RefreshAsync(user.RefreshToken);

        var next = await refreshed.ReadTokensAsync();
        Assert.NotEqual(user.RefreshToken, next.RefreshToken);
        Assert.NotEqual(user.AccessToken, next.AccessToken);
        using (var authenticated = await client.GetWithBearerAsync("/v1/api-keys", next.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, authenticated.StatusCode);
        }

        await using var command = factory.DataSource.CreateCommand("""
            SELECT old.revoked_reason, old.replaced_by = new.id, old.family_id = new.family_id, new.revoked_at IS NULL
            FROM refresh_tokens old, refresh_tokens new
            WHERE old.token_hash = $1 AND new.token_hash = $2
            """);
        command.Parameters.Add(new() { Value = AuthTestExtensions.Sha256(user.RefreshToken) });
        command.Parameters.Add(new() { Value = AuthTestExtensions.Sha256(next.RefreshToken) });
        await using (var reader = await command.ExecuteReaderAsync())
        {
            Assert.True(await reader.ReadAsync());
            Assert.Equal("rotated", reader.GetString(0));
            Assert.True(reader.GetBoolean(1));
            Assert.True(reader.GetBoolean(2));
            Assert.True(reader.GetBoolean(3));
        }

        using var reused = await client.RefreshAsync(user.RefreshToken);
        var problem = await reused.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("Invalid refresh token.", problem.GetProperty("title").GetString());
    }

    [Fact]
    public async Task Reusing_a_rotated_refresh_token_revokes_its_whole_family()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var second = await (await client.RefreshAsync(user.RefreshToken)).ReadTokensAsync();
        var third = await (await client.RefreshAsync(second.RefreshToken)).ReadTokensAsync();
        // A separate sign-in is a separate family and must survive.
        var otherSession = await (await client.TokenAsync(user.Email, user.Password)).ReadTokensAsync();

        using var replay = await client.RefreshAsync(user.RefreshToken);
        await replay.ReadProblemAsync(HttpStatusCode.Unauthorized);

        // The newest descendant, which the thief or the user may hold, is dead too.
        using var descendant = await client.RefreshAsync(third.RefreshToken);
        await descendant.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(0L, await factory.ScalarAsync<long>("""
            SELECT count(*) FROM refresh_tokens
            WHERE family_id = (SELECT family_id FROM refresh_tokens WHERE token_hash = $1) AND revoked_at IS NULL
            """, AuthTestExtensions.Sha256(user.RefreshToken)));
        Assert.Equal("reuse_detected", await factory.ScalarAsync<string>(
            "SELECT revoked_reason FROM refresh_tokens WHERE token_hash = $1", AuthTestExtensions.Sha256(third.RefreshToken)));
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.refresh_reuse_detected' AND target_id = $1", user.Id.ToString()));

        using var unaffected = await client.RefreshAsync(otherSession.RefreshToken);
        Assert.Equal(HttpStatusCode.OK, unaffected.StatusCode);
    }

    [Fact]
    public async Task Of_concurrent_refreshes_of_one_token_exactly_one_succeeds()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        var responses = await Task.WhenAll(Enumerable.Range(0, 4).Select(_ => client.RefreshAsync(user.RefreshToken)));

        try
        {
            Assert.Single(responses, r => r.StatusCode == HttpStatusCode.OK);
            Assert.Equal(3, responses.Count(r => r.StatusCode == HttpStatusCode.Unauthorized));
            // The losers presented a token that had just been rotated: that is reuse, so the winner's pair is revoked too.
            var winner = await responses.Single(r => r.StatusCode == HttpStatusCode.OK).ReadTokensAsync();
            using var afterwards = await client.RefreshAsync(winner.RefreshToken);
            Assert.Equal(HttpStatusCode.Unauthorized, afterwards.StatusCode);
            Assert.Equal(2L, await factory.ScalarAsync<long>(
                "SELECT count(*) FROM refresh_tokens WHERE user_id = $1", user.Id));
        }
        finally
        {
            foreach (var response in responses)
            {
                response.Dispose();
            }
        }
    }

    [Fact]
    public async Task An_expired_refresh_token_is_refused_and_not_rotated()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        await using (var expire = factory.DataSource.CreateCommand(
            "UPDATE refresh_tokens SET expires_at = now() - interval '1 minute' WHERE token_hash = $1"))
        {
            expire.Parameters.Add(new() { Value = AuthTestExtensions.Sha256(user.RefreshToken) });
            Assert.Equal(1, await expire.ExecuteNonQueryAsync());
        }

        using var response = await client.RefreshAsync(user.RefreshToken);

        await response.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(1L, await factory.ScalarAsync<long>("SELECT count(*) FROM refresh_tokens WHERE user_id = $1", user.Id));
        Assert.Null(await factory.ScalarAsync<string>(
            "SELECT revoked_reason FROM refresh_tokens WHERE token_hash = $1", AuthTestExtensions.Sha256(user.RefreshToken)));
    }

    [Fact]
    public async Task Refresh_of_an_unknown_token_is_401_and_validation_names_the_field()
    {
        using var client = factory.CreateClient();

        using var unknown = await client.RefreshAsync("not-a-token-we-issued");
        using var missing = await client.PostAsJsonAsync("/v1/auth/refresh", new { });

        await unknown.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal(["refreshToken"], await missing.ReadValidationErrorKeysAsync());
    }

    [Fact]
    public async Task Logout_revokes_the_session_family_and_only_its_owner_can()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var (intruder, _) = await factory.CreateUserClientAsync();
        var rotated = await (await client.RefreshAsync(user.RefreshToken)).ReadTokensAsync();

        using (var foreign = await intruder.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = rotated.RefreshToken }))
        {
            await foreign.ReadProblemAsync(HttpStatusCode.NotFound);
        }
        Assert.Null(await factory.ScalarAsync<string>(
            "SELECT revoked_reason FROM refresh_tokens WHERE token_hash = $1", AuthTestExtensions.Sha256(rotated.RefreshToken)));

        using (var anonymous = await factory.CreateClient().PostAsJsonAsync("/v1/auth/logout", new { refreshToken = rotated.RefreshToken }))
        {
            await anonymous.ReadProblemAsync(HttpStatusCode.Unauthorized);
        }

        using (var logout = await client.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = rotated.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        // Signing out twice is fine; it takes a live access token, which this session no longer has.
        var otherSession = await (await client.TokenAsync(user.Email, user.Password)).ReadTokensAsync();
        using (var again = await client.SendAsync(new HttpRequestMessage(HttpMethod.Post, "/v1/auth/logout")
        {
            Content = JsonContent.Create(new { refreshToken = rotated.RefreshToken }),
        }.WithBearer(otherSession.AccessToken)))
        {
            Assert.Equal(HttpStatusCode.NoContent, again.StatusCode);
        }

        using var refresh = await client.RefreshAsync(rotated.RefreshToken);
        await refresh.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("logout", await factory.ScalarAsync<string>(
            "SELECT revoked_reason FROM refresh_tokens WHERE token_hash = $1", AuthTestExtensions.Sha256(rotated.RefreshToken)));
        Assert.Equal(1L, await factory.ScalarAsync<long>(
            "SELECT count(*) FROM audit_log WHERE action = 'auth.logged_out' AND actor_user_id = $1", user.Id));
    }

    [Fact]
    public async Task Logout_ends_the_sessions_access_tokens_at_once_and_leaves_other_sessions_alone()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var other = await (await client.TokenAsync(user.Email, user.Password)).ReadTokensAsync();
        using (var before = await client.GetWithBearerAsync("/v1/auth/me", user.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, before.StatusCode);
        }

        using (var logout = await client.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = user.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }

        using (var after = await client.GetWithBearerAsync("/v1/auth/me", user.AccessToken))
        {
            await after.ReadProblemAsync(HttpStatusCode.Unauthorized);
            Assert.Contains("invalid_token", after.Headers.WwwAuthenticate.ToString(), StringComparison.Ordinal);
        }
        using (var otherSession = await client.GetWithBearerAsync("/v1/auth/me", other.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, otherSession.StatusCode);
        }

        // The revocation lives in Redis only as long as an access token of that session could.
        var session = TestTokens.SessionId(user.AccessToken);
        var redis = factory.Services.GetRequiredService<IConnectionMultiplexer>().GetDatabase();
        var ttl = await redis.KeyTimeToLiveAsync(SessionRevocations.Key(session));
        Assert.InRange(ttl!.Value, TimeSpan.FromMinutes(14), TimeSpan.FromMinutes(15.5));
    }

    [Fact]
    public async Task Refresh_token_reuse_also_ends_the_sessions_live_access_tokens()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var rotated = await (await client.RefreshAsync(user.RefreshToken)).ReadTokensAsync();

        using var replay = await client.RefreshAsync(user.RefreshToken);
        await replay.ReadProblemAsync(HttpStatusCode.Unauthorized);

        using var thief = await client.GetWithBearerAsync("/v1/auth/me", rotated.AccessToken);
        await thief.ReadProblemAsync(HttpStatusCode.Unauthorized);
    }

    [Fact]
    public async Task With_Redis_down_tokens_still_work_and_logout_still_ends_the_session_in_postgres()
    {
        var redis = await TestServers.StartPrivateRedisAsync();
        await using var isolated = factory.WithSettings(new Dictionary<string, string?>
        {
            ["ConnectionStrings:redis"] = redis.ConnectionString,
        });
        var (client, user) = await isolated.CreateUserClientAsync();

        await redis.StopAsync();

        using (var me = await client.GetWithBearerAsync("/v1/auth/me", user.AccessToken))
        {
            Assert.Equal(HttpStatusCode.OK, me.StatusCode);
        }
        using (var logout = await client.PostAsJsonAsync("/v1/auth/logout", new { refreshToken = user.RefreshToken }))
        {
            Assert.Equal(HttpStatusCode.NoContent, logout.StatusCode);
        }
        using var refresh = await client.RefreshAsync(user.RefreshToken);
        await refresh.ReadProblemAsync(HttpStatusCode.Unauthorized);
        Assert.Equal("logout", await factory.ScalarAsync<string>(
            "SELECT revoked_reason FROM refresh_tokens WHERE token_hash = $1", AuthTestExtensions.Sha256(user.RefreshToken)));
    }

    private static string WithoutTraceId(JsonElement problem) =>
        JsonSerializer.Serialize(problem.EnumerateObject().Where(p => p.Name != "traceId").ToDictionary(p => p.Name, p => p.Value));
}
