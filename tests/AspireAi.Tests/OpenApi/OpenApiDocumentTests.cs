using System.Net;
using System.Text.RegularExpressions;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;

namespace AspireAi.Tests.OpenApi;

public sealed partial class OpenApiDocumentTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    // Endpoints deliberately left out of the document, each with its reason. Anything else that is mapped must be there.
    private static readonly Dictionary<string, string> Undocumented = new(StringComparer.Ordinal)
    {
        ["/openapi/{documentName}.json"] = "the document itself",
        ["/health"] = "readiness probe for the orchestrator, not a client API",
        ["/alive"] = "liveness probe for the orchestrator, not a client API",
        ["/health/details"] = "the per-check health report for administrators and operators, not a client API",
        ["/mcp"] = "the MCP endpoint speaks JSON-RPC over streamable HTTP; its tools are described by tools/list",
        ["/mcp/sse"] = "the MCP SDK's legacy SSE transport",
        ["/mcp/message"] = "the MCP SDK's legacy SSE transport",
    };

    [GeneratedRegex(@"\{\*?([A-Za-z0-9_]+)[^}]*\}")]
    private static partial Regex RouteParameter();

    [Fact]
    public async Task Every_mapped_endpoint_is_in_the_OpenAPI_3_1_document()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/openapi/v1.json");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        var document = await response.ReadJsonAsync();
        Assert.StartsWith("3.1", document.GetProperty("openapi").GetString(), StringComparison.Ordinal);
        var paths = document.GetProperty("paths");

        var missing = new List<string>();
        var checkedCount = 0;
        foreach (var endpoint in factory.Services.GetRequiredService<EndpointDataSource>().Endpoints.OfType<RouteEndpoint>())
        {
            var path = Normalise(endpoint.RoutePattern.RawText ?? "");
            // The Scalar UI (Development only) and its static assets are a viewer of the document, not API.
            if (Undocumented.ContainsKey(path) || path.StartsWith("/scalar", StringComparison.Ordinal))
            {
                continue;
            }
            var methods = endpoint.Metadata.GetMetadata<HttpMethodMetadata>()?.HttpMethods ?? ["(any)"];
            foreach (var method in methods)
            {
                checkedCount++;
                if (!paths.TryGetProperty(path, out var item) || !item.TryGetProperty(method.ToLowerInvariant(), out _))
                {
                    missing.Add($"{method} {path} ({endpoint.DisplayName})");
                }
            }
        }

        Assert.True(checkedCount > 40, $"Only {checkedCount} endpoints were found; the walk over EndpointDataSource is broken.");
        Assert.True(missing.Count == 0, "Mapped but not in /openapi/v1.json:\n" + string.Join("\n", missing));
    }

    [Fact]
    public async Task Operations_name_the_bearer_scheme_their_bodies_and_ProblemDetails_errors()
    {
        using var client = factory.CreateClient();
        var document = await (await client.GetAsync("/openapi/v1.json")).ReadJsonAsync();

        var scheme = document.GetProperty("components").GetProperty("securitySchemes").GetProperty("Bearer");
        Assert.Equal("http", scheme.GetProperty("type").GetString());
        Assert.Equal("bearer", scheme.GetProperty("scheme").GetString());

        // A secured operation: the scheme, its 401 and its request body schema.
        var create = document.GetProperty("paths").GetProperty("/v1/api-keys").GetProperty("post");
        Assert.Contains(create.GetProperty("security").EnumerateArray(), r => r.TryGetProperty("Bearer", out _));
        var unauthorized = create.GetProperty("responses").GetProperty("401").GetProperty("content").GetProperty("application/problem+json");
        Assert.EndsWith("/ProblemDetails", unauthorized.GetProperty("schema").GetProperty("$ref").GetString(), StringComparison.Ordinal);
        Assert.True(create.GetProperty("requestBody").GetProperty("content").TryGetProperty("application/json", out _));
        Assert.True(create.GetProperty("responses").TryGetProperty("201", out _));

        // An anonymous one (sign-in): no security requirement, no 401.
        var token = document.GetProperty("paths").GetProperty("/v1/auth/token").GetProperty("post");
        Assert.False(token.TryGetProperty("security", out _));
        Assert.False(token.GetProperty("responses").TryGetProperty("401", out _));

        // An admin-only one can also be refused.
        var adminPaths = document.GetProperty("paths").EnumerateObject().Where(p => p.Name.StartsWith("/v1/admin/", StringComparison.Ordinal)).ToList();
        Assert.NotEmpty(adminPaths);
        Assert.All(adminPaths, p => Assert.All(p.Value.EnumerateObject(), op => Assert.True(op.Value.GetProperty("responses").TryGetProperty("403", out _), $"{op.Name} {p.Name}")));
    }

    [Fact]
    public async Task The_Scalar_UI_is_served_in_Development()
    {
        using var client = factory.CreateClient();
        using var response = await client.GetAsync("/scalar/");

        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        Assert.Equal("text/html", response.Content.Headers.ContentType?.MediaType);
        Assert.Contains("AspireAi API", await response.Content.ReadAsStringAsync(), StringComparison.Ordinal);
        // Served from the app itself, not a CDN (the machine that runs it may have no internet).
        using var script = await client.GetAsync("/scalar/scalar.js");
        Assert.Equal(HttpStatusCode.OK, script.StatusCode);
    }

    private static string Normalise(string rawText)
    {
        var path = RouteParameter().Replace(rawText, "{$1}");
        if (!path.StartsWith('/'))
        {
            path = "/" + path;
        }
        return path.Length > 1 ? path.TrimEnd('/') : path;
    }

    [Fact]
    public void Route_patterns_are_compared_without_constraints_or_trailing_slashes()
    {
        Assert.Equal("/v1/conversations/{id}/messages", Normalise("/v1/conversations/{id:guid}/messages/"));
        Assert.Equal("/v1/documents/{id}/chunks/{chunkId}", Normalise("v1/documents/{id:guid}/chunks/{chunkId:guid}"));
    }
}
