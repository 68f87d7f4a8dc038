using System.Diagnostics;
using System.Text.Json;
using AspireAi.Core.Identity;
using AspireAi.Core.Llm.Pipeline;
using ModelContextProtocol.Protocol;

namespace AspireAi.Api.Mcp;

/// <summary>
/// The MCP server at <c>/mcp</c> (streamable HTTP, stateless: every request carries its own credential, so any Api
/// instance can answer it). It sits behind the same bearer authentication as every other endpoint, and every tool
/// call is written to the tool-call audit like a call the chat model makes.
/// </summary>
internal static class McpExtensions
{
    public const string Path = "/mcp";

    public static IHostApplicationBuilder AddMcp(this IHostApplicationBuilder builder)
    {
        builder.Services.AddHttpContextAccessor();
        builder.Services.AddMcpServer(options => options.ServerInfo = new Implementation { Name = "AspireAi", Version = "1.0.0" })
            .WithHttpTransport(options => options.Stateless = true)
            .WithTools<AspireAiMcpTools>()
            .WithRequestFilters(filters => filters.AddCallToolFilter(next => async (context, cancellationToken) =>
            {
                var started = Stopwatch.GetTimestamp();
                var result = await next(context, cancellationToken);
                await AuditAsync(context.Services, context.User, context.Params, result, Stopwatch.GetElapsedTime(started));
                return result;
            }));
        return builder;
    }

    public static IEndpointConventionBuilder MapMcpServer(this IEndpointRouteBuilder app) =>
        app.MapMcp(Path).RequireAuthorization();

    private static async Task AuditAsync(IServiceProvider? services, System.Security.Claims.ClaimsPrincipal? user, CallToolRequestParams? call,
        CallToolResult result, TimeSpan duration)
    {
        if (services is null || call is null)
        {
            return;
        }
        var arguments = call.Arguments is null ? "{}" : JsonSerializer.Serialize(call.Arguments);
        var resultText = string.Concat(result.Content.OfType<TextContentBlock>().Select(c => c.Text));
        var userId = user is not null && user.TryGetCurrentUser(out var current) ? current.UserId.ToString() : null;
        var record = new ToolCallRecord(userId, ConversationId: null, call.Name, "mcp-" + Guid.CreateVersion7().ToString("N"), Round: 0,
            arguments.Length, arguments, resultText.Length, duration, result.IsError == true ? ToolCallOutcome.Failed : ToolCallOutcome.Succeeded,
            result.IsError == true ? resultText : null);
        foreach (var observer in services.GetServices<IToolCallObserver>())
        {
            await observer.OnToolCallCompletedAsync(record, CancellationToken.None);
        }
    }
}
