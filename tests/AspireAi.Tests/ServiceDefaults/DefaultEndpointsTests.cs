using System.Net;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace AspireAi.Tests.ServiceDefaults;

public sealed class DefaultEndpointsTests
{
    private const string SecretDetail = "connection string Password=hunter2";

    private static Task<ServiceApp> StartAppWithFailingDependencyAsync() =>
        ServiceApp.StartAsync(
            builder => builder.Services.AddHealthChecks()
                .AddCheck("database", () => HealthCheckResult.Unhealthy(SecretDetail)),
            app => app.MapGet("/boom", IResult () => throw new InvalidOperationException(SecretDetail)));

    private static async Task<JsonElement> ReadJsonAsync(HttpResponseMessage response) =>
        JsonDocument.Parse(await response.Content.ReadAsStringAsync()).RootElement;

    [Fact]
    public async Task Health_fails_on_any_check_while_alive_only_runs_live_checks_and_neither_names_them()
    {
        await using var app = await StartAppWithFailingDependencyAsync();

        using var health = await app.Client.GetAsync(new Uri("/health", UriKind.Relative));
        Assert.Equal(HttpStatusCode.ServiceUnavailable, health.StatusCode);
        Assert.Equal("application/json", health.Content.Headers.ContentType?.MediaType);
        var healthBody = await ReadJsonAsync(health);
        // Anonymous: the overall status only, no dependency names or latencies.
        Assert.Equal(["status"], healthBody.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Unhealthy", healthBody.GetProperty("status").GetString());

        using var alive = await app.Client.GetAsync(new Uri("/alive", UriKind.Relative));
        Assert.Equal(HttpStatusCode.OK, alive.StatusCode);
        var aliveBody = await ReadJsonAsync(alive);
        Assert.Equal(["status"], aliveBody.EnumerateObject().Select(p => p.Name));
        Assert.Equal("Healthy", aliveBody.GetProperty("status").GetString());

        // No policy for the detailed report in this service: it is not there at all.
        using var details = await app.Client.GetAsync(new Uri("/health/details", UriKind.Relative));
        Assert.Equal(HttpStatusCode.NotFound, details.StatusCode);
    }

    [Fact]
    public async Task An_unhandled_exception_becomes_a_500_problem_without_the_exception_text()
    {
        await using var app = await StartAppWithFailingDependencyAsync();

        using var response = await app.Client.GetAsync(new Uri("/boom", UriKind.Relative));

        Assert.Equal(HttpStatusCode.InternalServerError, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.Equal(500, problem.GetProperty("status").GetInt32());
        Assert.False(string.IsNullOrEmpty(problem.GetProperty("title").GetString()));
        Assert.Matches("^00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$", problem.GetProperty("traceId").GetString());
        Assert.DoesNotContain("hunter2", problem.GetRawText(), StringComparison.Ordinal);
        Assert.DoesNotContain(nameof(InvalidOperationException), problem.GetRawText(), StringComparison.Ordinal);

        // The header names the same trace as the body, so a report with either finds the trace.
        var header = Assert.Single(response.Headers.GetValues("X-Trace-Id"));
        Assert.Matches("^[0-9a-f]{32}$", header);
        Assert.Contains(header, problem.GetProperty("traceId").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unknown_route_becomes_a_404_problem()
    {
        await using var app = await StartAppWithFailingDependencyAsync();

        using var response = await app.Client.GetAsync(new Uri("/no-such-route", UriKind.Relative));

        Assert.Equal(HttpStatusCode.NotFound, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await ReadJsonAsync(response);
        Assert.Equal(404, problem.GetProperty("status").GetInt32());
        Assert.True(problem.TryGetProperty("traceId", out _));
    }
}
