using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Api.Problems;
using AspireAi.Core.Data;
using AspireAi.ServiceDefaults.ErrorHandling;
using AspireAi.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.ServiceDefaults;

/// <summary>
/// Requests the framework cannot bind, and values only the database refuses, answer with a 400 ProblemDetails that
/// names the field, in Production (where the framework alone would send a bare 400 or a 500).
/// </summary>
public sealed class RequestProblemsTests
{
    public sealed record EchoRequest(string Name, int Count, bool? Flag, Guid? Id)
    {
        public required string Kind { get; init; }
    }

    private static Task<ServiceApp> StartAsync(Action<WebApplicationBuilder>? configure = null, Action<WebApplication>? map = null) =>
        ServiceApp.StartAsync(configure ?? (_ => { }), app =>
        {
            app.MapPost("/echo", (EchoRequest request) => TypedResults.Ok(request));
            app.MapGet("/page", (int limit) => TypedResults.Ok(limit));
            map?.Invoke(app);
        });

    private static async Task<JsonElement> PostAsync(ServiceApp service, string json, HttpStatusCode expected = HttpStatusCode.BadRequest)
    {
        using var response = await service.Client.PostAsync("/echo", new StringContent(json, Encoding.UTF8, "application/json"));
        var body = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == expected, $"{(int)response.StatusCode}: {body}");
        if (expected != HttpStatusCode.OK)
        {
            Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        }
        return JsonDocument.Parse(body).RootElement;
    }

    private static string[] Errors(JsonElement problem, string field) =>
        [.. problem.GetProperty("errors").GetProperty(field).EnumerateArray().Select(e => e.GetString()!)];

    [Fact]
    public async Task A_value_of_the_wrong_type_names_the_field_and_what_was_expected()
    {
        await using var service = await StartAsync();

        var count = await PostAsync(service, """{"name":"a","kind":"k","count":"ten"}""");
        Assert.Equal(["Expected a whole number."], Errors(count, "count"));
        Assert.Equal(["Expected true or false."], Errors(await PostAsync(service, """{"name":"a","kind":"k","count":1,"flag":"yes"}"""), "flag"));
        Assert.Contains("GUID", Errors(await PostAsync(service, """{"name":"a","kind":"k","count":1,"id":"nope"}"""), "id")[0], StringComparison.Ordinal);
        var array = await PostAsync(service, """["not","an","object"]""");
        Assert.True(array.GetProperty("errors").TryGetProperty("body", out var body), array.ToString());
        Assert.Equal(["Expected an object."], body.EnumerateArray().Select(e => e.GetString()));
    }

    [Fact]
    public async Task A_missing_required_property_and_a_syntax_error_are_named()
    {
        await using var service = await StartAsync();

        Assert.Equal(["The field is required."], Errors(await PostAsync(service, """{"name":"a","count":1}"""), "kind"));
        var syntax = Errors(await PostAsync(service, """{"name": "unterminated"""), "body");
        Assert.StartsWith("The request body is not valid JSON:", syntax[0], StringComparison.Ordinal);
        Assert.Contains("BytePositionInLine", syntax[0], StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_nul_character_in_any_string_is_refused_with_its_field()
    {
        await using var service = await StartAsync();

        var problem = await PostAsync(service, """{"name":"a\u0000b","kind":"k","count":1}""");
        Assert.Equal(["The text must not contain NUL (U+0000) characters."], Errors(problem, "name"));
        // Other escapes are still text like any other.
        await PostAsync(service, """{"name":"tab\there","kind":"k","count":1}""", HttpStatusCode.OK);
    }

    [Fact]
    public async Task A_query_value_that_does_not_bind_is_a_problem_naming_the_parameter()
    {
        await using var service = await StartAsync();

        using var response = await service.Client.GetAsync("/page?limit=abc");
        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("limit", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
        Assert.Contains("abc", problem.GetProperty("detail").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_value_only_the_database_refuses_is_a_400_and_a_database_bug_stays_a_500()
    {
        var servers = await TestServers.GetAsync();
        await using var service = await StartAsync(
            builder => builder.Services.AddProblemExceptionHandler<DatabaseInputRejectedHandler>(),
            app =>
            {
                // jsonb cannot hold \u0000: the kind of value that slips past a validator that does not know it.
                app.MapPost("/store", async (HttpRequest request) =>
                {
                    var json = await new StreamReader(request.Body).ReadToEndAsync();
                    await using var command = servers.DataSource.CreateCommand("SELECT $1::jsonb");
                    command.Parameters.Add(new() { Value = json });
                    await command.ExecuteScalarAsync();
                    return TypedResults.NoContent();
                });
                app.MapPost("/bug", async () =>
                {
                    await using var command = servers.DataSource.CreateCommand("SELECT 1 / 0");
                    await command.ExecuteScalarAsync();
                    return TypedResults.NoContent();
                });
            });

        using var refused = await service.Client.PostAsync("/store", new StringContent("""{"a":"\u0000"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        var problem = await refused.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("The request holds a value that cannot be stored", problem.GetProperty("title").GetString());
        Assert.Contains("Unicode", problem.GetProperty("detail").GetString(), StringComparison.OrdinalIgnoreCase);

        using var bug = await service.Client.PostAsync("/bug", null);
        Assert.Equal(HttpStatusCode.InternalServerError, bug.StatusCode);
    }
}
