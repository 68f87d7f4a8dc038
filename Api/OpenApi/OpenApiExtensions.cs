using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Authorization;
using Microsoft.AspNetCore.OpenApi;
using Microsoft.OpenApi;
using Scalar.AspNetCore;

namespace AspireAi.Api.OpenApi;

/// <summary>
/// The OpenAPI 3.1 document at <c>/openapi/v1.json</c> (every endpoint, its bearer scheme, request and response types,
/// ProblemDetails errors) and, in Development, the Scalar UI at <c>/scalar</c>, served from the app itself.
/// </summary>
internal static class OpenApiExtensions
{
    public const string DocumentName = "v1";
    public const string DocumentPath = "/openapi/{documentName}.json";
    public const string ScalarPath = "/scalar";

    private const string ProblemContentType = "application/problem+json";
    private const string ProblemSchemaName = "ProblemDetails";

    public static IHostApplicationBuilder AddApiDocumentation(this IHostApplicationBuilder builder)
    {
        builder.Services.AddOpenApi(DocumentName, options =>
        {
            options.OpenApiVersion = OpenApiSpecVersion.OpenApi3_1;
            options.AddDocumentTransformer((document, _, _) =>
            {
                document.Info = new OpenApiInfo
                {
                    Title = "AspireAi API",
                    Version = DocumentName,
                    Description = "Chat with memory and documents. Authenticate with 'Authorization: Bearer <access token or API key>'.",
                };
                document.Components ??= new OpenApiComponents();
                document.Components.SecuritySchemes ??= new Dictionary<string, IOpenApiSecurityScheme>();
                document.Components.SecuritySchemes[AspireAiPolicies.BearerScheme] = new OpenApiSecurityScheme
                {
                    Type = SecuritySchemeType.Http,
                    Scheme = "bearer",
                    Description = "An access token from POST /v1/auth/token, or an API key (aai_...) from POST /v1/api-keys.",
                };
                document.Components.Schemas ??= new Dictionary<string, IOpenApiSchema>();
                document.Components.Schemas[ProblemSchemaName] = ProblemSchema();
                return Task.CompletedTask;
            });
            options.AddOperationTransformer(DescribeSecurityAndErrorsAsync);
        });
        return builder;
    }

    public static IEndpointRouteBuilder MapApiDocumentation(this WebApplication app)
    {
        // The document only describes the API; reading it needs no credential, so client generators can fetch it.
        app.MapOpenApi(DocumentPath).AllowAnonymous();
        if (app.Environment.IsDevelopment())
        {
            app.MapScalarApiReference(ScalarPath, options => options.WithTitle("AspireAi API").AddDocument(DocumentName)).AllowAnonymous();
        }
        return app;
    }

    /// <summary>
    /// Operations behind the bearer scheme get its security requirement and a 401 (403 where a policy may refuse);
    /// every operation documents the ProblemDetails it can answer with where it does not say otherwise.
    /// </summary>
    private static Task DescribeSecurityAndErrorsAsync(OpenApiOperation operation, OpenApiOperationTransformerContext context, CancellationToken _)
    {
        var metadata = context.Description.ActionDescriptor.EndpointMetadata;
        var anonymous = metadata.OfType<IAllowAnonymous>().Any();
        operation.Responses ??= [];
        var problem = new OpenApiSchemaReference(ProblemSchemaName, context.Document);

        void AddProblem(int status, string description)
        {
            var key = status.ToString(System.Globalization.CultureInfo.InvariantCulture);
            if (!operation.Responses.ContainsKey(key))
            {
                operation.Responses[key] = new OpenApiResponse
                {
                    Description = description,
                    Content = new Dictionary<string, OpenApiMediaType> { [ProblemContentType] = new() { Schema = problem } },
                };
            }
        }

        if (!anonymous)
        {
            operation.Security ??= [];
            operation.Security.Add(new OpenApiSecurityRequirement { [new OpenApiSecuritySchemeReference(AspireAiPolicies.BearerScheme, context.Document)] = [] });
            AddProblem(StatusCodes.Status401Unauthorized, "No valid access token or API key.");
            if (metadata.OfType<IAuthorizeData>().Any(a => a.Policy is not null || a.Roles is not null))
            {
                AddProblem(StatusCodes.Status403Forbidden, "The caller may not use this endpoint.");
            }
        }
        if (operation.RequestBody is not null || operation.Parameters is { Count: > 0 })
        {
            AddProblem(StatusCodes.Status400BadRequest, "The request is invalid; 'errors' names each field.");
        }
        AddProblem(StatusCodes.Status500InternalServerError, "An unexpected server error.");
        return Task.CompletedTask;
    }

    // RFC 9457 as the Api writes it: validation problems add 'errors' (field -> messages), every problem a traceId.
    private static OpenApiSchema ProblemSchema()
    {
        static OpenApiSchema Text() => new() { Type = JsonSchemaType.String };
        return new OpenApiSchema
        {
            Type = JsonSchemaType.Object,
            Description = "RFC 9457 problem details.",
            Properties = new Dictionary<string, IOpenApiSchema>
            {
                ["type"] = Text(),
                ["title"] = Text(),
                ["status"] = new OpenApiSchema { Type = JsonSchemaType.Integer, Format = "int32" },
                ["detail"] = Text(),
                ["instance"] = Text(),
                ["traceId"] = Text(),
                ["errors"] = new OpenApiSchema
                {
                    Type = JsonSchemaType.Object,
                    AdditionalProperties = new OpenApiSchema { Type = JsonSchemaType.Array, Items = Text() },
                },
            },
        };
    }
}
