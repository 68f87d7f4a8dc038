using System.Text.Encodings.Web;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Http;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Web.Chat;

// The endpoints chat.js calls. The browser never talks to the Api itself: it has no token (that stays in
// the encrypted cookie), so these endpoints attach it and pass the Api's answers through.
internal static class ChatProxyApi
{
    public const string GroupPath = "/app/conversations";

    public static string StreamPath(string conversationId) =>
        $"{GroupPath}/{Uri.EscapeDataString(conversationId)}/stream";

    // chat.js fills in the message id once the answer is done.
    public static string MessageHtmlPathTemplate(string conversationId) =>
        $"{GroupPath}/{Uri.EscapeDataString(conversationId)}/messages/{{messageId}}/html";

    public static RouteGroupBuilder MapChatProxy(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup(GroupPath)
            .RequireAuthorization()
            .AddEndpointFilter<AntiforgeryValidationFilter>()
            .AddEndpointFilter<ApiProblemFilter>();

        group.MapPost("/{conversationId}/stream", StreamAsync);
        group.MapGet("/{conversationId}/messages/{messageId}/html", GetMessageHtmlAsync);

        return group;
    }

    // Sends the message and streams the answer back. Never retried by Web: a repeated POST would ask twice.
    // Failing to reach the Api at all becomes a 503 problem in ApiProblemFilter.
    private static async Task<UpstreamResult> StreamAsync(
        string conversationId,
        SendMessageRequest request,
        ChatStreamClient client,
        HttpContext context,
        ILogger<UpstreamResult> logger)
    {
        var upstream = await client.OpenStreamAsync(conversationId, request.Content, context.RequestAborted);
        return new UpstreamResult(upstream, logger);
    }

    // The finished answer as safe HTML, to replace the plain text chat.js showed while it streamed.
    // An unknown id is the Api's 404, passed on by ApiProblemFilter.
    private static async Task<ContentHttpResult> GetMessageHtmlAsync(
        string conversationId,
        string messageId,
        ApiClient api,
        MarkdownRenderer markdown,
        HttpContext context)
    {
        var message = await api.GetMessageAsync(conversationId, messageId, context.RequestAborted);

        context.Response.Headers.CacheControl = "no-store";
        var html = message.IsAssistant ? markdown.ToHtml(message.Content, message.Citations) : HtmlEncoder.Default.Encode(message.Content);
        return TypedResults.Content(html, "text/html; charset=utf-8");
    }
}
