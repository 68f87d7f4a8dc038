using System.Net;
using System.Text;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Chat;
using AspireAi.Web.Components.Chat;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspireAi.Tests.Web;

// The chat components' logic under bUnit: what a stream, a failure, a refusal or a click leaves on screen and which
// requests go to the Api. The Api is a recording HttpMessageHandler; the browser-level behaviour is ChatLiveTests'.
public sealed class ChatComponentTests : IDisposable
{
    private const string ConversationId = "c-1";
    private readonly BunitContext _context = new();
    private readonly RecordingApi _api = new();

    public ChatComponentTests()
    {
        _context.JSInterop.Mode = JSRuntimeMode.Loose;
        var http = new HttpClient(_api) { BaseAddress = new Uri("http://api/") };
        _context.Services.AddSingleton(TimeProvider.System);
        _context.Services.AddSingleton(new ChatStreamClient(http, TimeProvider.System));
        _context.Services.AddSingleton(new ApiClient(http, TimeProvider.System));
        _context.Services.AddSingleton<MarkdownRenderer>();
        _context.Services.AddSingleton<IHttpContextAccessor>(new HttpContextAccessor());
        _context.Services.AddScoped<ChatExchanges>();
        _context.Services.TryAddSingleton<AntiforgeryStateProvider, NoAntiforgery>();
        // After the services: setting it builds the renderer, which closes the container.
        _context.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    [Fact]
    public void A_streamed_answer_ends_complete_with_its_ids_model_and_feedback_buttons()
    {
        _api.Stream = Sse(
            ("delta", """{"text":"Hello, "}"""),
            ("delta", """{"text":"**world**"}"""),
            ("done", """{"messageId":"a-1","userMessageId":"u-1","model":"m-1","promptName":"chat","promptVersion":4,"inputTokens":3,"outputTokens":2,"cost":0.001,"citations":[]}"""));
        var chat = RenderConversation();

        Send(chat, "Hi there");

        chat.WaitForAssertion(() => Assert.Equal("complete", chat.Find("[data-message-id='a-1']").GetAttribute("data-status")));
        var answer = chat.Find("[data-message-id='a-1']");
        Assert.Equal("Hello, <strong>world</strong>", answer.QuerySelector("[data-testid='message-content'] p")!.InnerHtml);
        Assert.Contains("m-1 · chat v4", answer.QuerySelector("[data-testid='model-badge']")!.TextContent, StringComparison.Ordinal);
        Assert.NotNull(answer.QuerySelector("[data-testid='feedback-up']"));
        Assert.NotNull(chat.Find("[data-message-id='u-1']"));
        Assert.Equal("false", chat.Find("[data-testid='message-list']").GetAttribute("aria-busy"));
        Assert.Empty(chat.FindAll("[data-testid='retry']"));
        var sent = Assert.Single(_api.Requests);
        Assert.Equal(("POST", "/v1/conversations/c-1/messages", """{"content":"Hi there"}"""), (sent.Method, sent.Path, sent.Body));
    }

    [Fact]
    public void An_error_event_marks_the_answer_failed_and_Retry_sends_the_same_text_again()
    {
        _api.Stream = Sse(("delta", """{"text":"Par"}"""), ("error", """{"title":"Provider down","status":503,"traceId":"t-9"}"""));
        var chat = RenderConversation();

        Send(chat, "Question");

        chat.WaitForAssertion(() => Assert.Contains("Provider down", chat.Find("[data-testid='error']").TextContent, StringComparison.Ordinal));
        Assert.Equal("Failed", chat.Find("[data-testid='message-status']").TextContent);
        // A failed answer has no id on the Api's side here: nothing to rate.
        Assert.Empty(chat.FindAll("[data-testid='feedback-up']"));

        _api.Stream = Sse(("done", """{"messageId":"a-2","userMessageId":"u-2","model":"m","promptName":"p","promptVersion":1}"""));
        chat.Find("[data-testid='retry']").Click();

        chat.WaitForAssertion(() => Assert.Equal("complete", chat.Find("[data-message-id='a-2']").GetAttribute("data-status")));
        Assert.Empty(chat.FindAll("[data-testid='error']"));
        Assert.Equal(["""{"content":"Question"}""", """{"content":"Question"}"""], _api.Requests.Select(r => r.Body));
    }

    [Fact]
    public void A_refusal_before_the_stream_puts_the_text_back_and_shows_the_problem()
    {
        _api.Refusal = (HttpStatusCode.TooManyRequests, """{"title":"Daily token budget exceeded","status":429}""");
        var chat = RenderConversation();

        Send(chat, "One more");

        chat.WaitForAssertion(() => Assert.Contains("Daily token budget exceeded", chat.Find("[data-testid='error']").TextContent, StringComparison.Ordinal));
        Assert.Equal("One more", chat.Find("textarea").GetAttribute("value"));
        Assert.Empty(chat.FindAll("[data-testid='user-message']"));
        Assert.Empty(chat.FindAll("[data-testid='assistant-message']"));
    }

    [Fact]
    public void Prerendered_the_message_box_and_the_feedback_buttons_are_disabled()
    {
        _context.SetRendererInfo(new RendererInfo("Static", isInteractive: false));
        var chat = RenderConversation(new ChatMessage("a-0", 2, "assistant", "Stored", "complete", DateTimeOffset.UtcNow,
            "m", "p", "1", 1, 1, 0m, null));

        Assert.True(chat.Find("textarea").HasAttribute("disabled"));
        Assert.True(chat.Find("[data-testid='send']").HasAttribute("disabled"));
        Assert.True(chat.Find("[data-testid='feedback-up']").HasAttribute("disabled"));
    }

    [Fact]
    public void Thumbs_up_is_sent_and_pressing_it_again_takes_it_back()
    {
        _api.Json = """{"messageId":"a-0","rating":"up","comment":null}""";
        var control = _context.Render<MessageFeedbackControl>(p => p
            .Add(c => c.ConversationId, ConversationId)
            .Add(c => c.MessageId, "a-0"));

        control.Find("[data-testid='feedback-up']").Click();

        control.WaitForAssertion(() => Assert.Equal("true", control.Find("[data-testid='feedback-up']").GetAttribute("aria-pressed")));
        Assert.Equal("false", control.Find("[data-testid='feedback-down']").GetAttribute("aria-pressed"));
        Assert.NotNull(control.Find("[data-testid='feedback-comment']"));

        control.Find("[data-testid='feedback-up']").Click();

        control.WaitForAssertion(() => Assert.Equal("false", control.Find("[data-testid='feedback-up']").GetAttribute("aria-pressed")));
        Assert.Equal(
            [("PUT", "/v1/conversations/c-1/messages/a-0/feedback", """{"rating":"up","comment":null}"""), ("DELETE", "/v1/conversations/c-1/messages/a-0/feedback", "")],
            _api.Requests.Select(r => (r.Method, r.Path, r.Body)));
    }

    public void Dispose()
    {
        _context.Dispose();
        _api.Dispose();
    }

    private IRenderedComponent<ChatConversation> RenderConversation(params ChatMessage[] history) =>
        _context.Render<ChatConversation>(p => p
            .Add(c => c.ConversationId, ConversationId)
            .Add(c => c.InitialTitle, "Test")
            .Add(c => c.InitialMessages, history));

    private static void Send(IRenderedComponent<ChatConversation> chat, string text)
    {
        chat.Find("textarea").Input(text);
        chat.Find("form.chat-input").Submit();
    }

    private static string Sse(params (string Event, string Data)[] events) =>
        string.Concat(events.Select(e => $"event: {e.Event}\ndata: {e.Data}\n\n"));

    private sealed class NoAntiforgery : AntiforgeryStateProvider
    {
        public override AntiforgeryRequestToken? GetAntiforgeryToken() => null;
    }

    private sealed class RecordingApi : HttpMessageHandler
    {
        public string Stream { get; set; } = "";

        public (HttpStatusCode Status, string Body)? Refusal { get; set; }

        public string Json { get; set; } = "{}";

        public List<(string Method, string Path, string Body)> Requests { get; } = [];

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var body = request.Content is null ? "" : await request.Content.ReadAsStringAsync(cancellationToken);
            lock (Requests)
            {
                Requests.Add((request.Method.Method, request.RequestUri!.AbsolutePath, body));
            }

            if (request.Method == HttpMethod.Delete)
            {
                return new HttpResponseMessage(HttpStatusCode.NoContent);
            }
            if (request.RequestUri!.AbsolutePath.EndsWith("/messages", StringComparison.Ordinal))
            {
                return Refusal is { } refusal
                    ? new HttpResponseMessage(refusal.Status) { Content = new StringContent(refusal.Body, Encoding.UTF8, "application/problem+json") }
                    : new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Stream, Encoding.UTF8, "text/event-stream") };
            }
            return new HttpResponseMessage(HttpStatusCode.OK) { Content = new StringContent(Json, Encoding.UTF8, "application/json") };
        }
    }
}
