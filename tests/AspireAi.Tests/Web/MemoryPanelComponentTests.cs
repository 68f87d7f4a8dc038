using System.IO.Pipelines;
using System.Net;
using System.Text;
using AspireAi.Web.Chat;
using AspireAi.Web.Components.Memories;
using AspireAi.Web.Memories;
using Bunit;
using Microsoft.AspNetCore.Components;
using Microsoft.AspNetCore.Components.Forms;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace AspireAi.Tests.Web;

// The live memory panel's logic under bUnit: it reads the list when the Api's memory event stream is ready and again on
// each event, marks what it had not shown as new, and falls back to polling after an answer when the stream is
// unavailable. The Api is a handler whose event stream the test writes to; the browser-level behaviour is LivePagesTests'.
public sealed class MemoryPanelComponentTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    private readonly BunitContext _context = new();
    private readonly ScriptedMemoryApi _api = new();
    private readonly Guid _known = Guid.NewGuid();
    private readonly Guid _learned = Guid.NewGuid();

    public MemoryPanelComponentTests()
    {
        var http = new HttpClient(_api) { BaseAddress = new Uri("http://api/") };
        _context.Services.AddSingleton(TimeProvider.System);
        _context.Services.AddSingleton(new MemoriesClient(http, TimeProvider.System));
        _context.Services.AddSingleton(new MemoryEventsClient(http, TimeProvider.System));
        _context.Services.AddScoped<ChatExchanges>();
        _context.Services.TryAddSingleton<AntiforgeryStateProvider, NoAntiforgery>();
        _context.SetRendererInfo(new RendererInfo("Server", isInteractive: true));
    }

    [Fact]
    public async Task With_the_stream_the_panel_takes_over_the_list_and_reads_it_again_on_each_event()
    {
        _api.Memories = [(_learned, "Works at Globex"), (_known, "Lives in Lisbon")];
        var panel = RenderPanel();

        await _api.WriteEventAsync("ready", """{"heartbeatSeconds":15}""");

        panel.WaitForAssertion(() => Assert.Equal("stream", panel.Find("[data-testid='memory-panel-live']").GetAttribute("data-mode")), Wait);
        panel.WaitForAssertion(() => Assert.Equal(["Works at Globex", "Lives in Lisbon"], Texts(panel)), Wait);
        // Only what the server-rendered panel did not show is new.
        Assert.Equal([_learned.ToString()], panel.FindAll("[data-testid='memory-new']").Select(e => e.Closest("li")!.GetAttribute("data-memory-id")));

        var added = Guid.NewGuid();
        _api.Memories = [(added, "Plays chess"), (_known, "Lives in Lisbon")];
        await _api.WriteEventAsync("memory", $$"""{"operation":"add","memoryId":"{{added}}","scope":"user"}""");

        panel.WaitForAssertion(() => Assert.Equal(["Plays chess", "Lives in Lisbon"], Texts(panel)), Wait);
        Assert.Equal(["GET /v1/memories/events", "GET /v1/memories", "GET /v1/memories"], _api.Requests);

        // With the stream up an answer does not start the polling: the Workers' event will say when extraction is done.
        _context.Services.GetRequiredService<ChatExchanges>().NotifyCompleted();
        await Task.Delay(TimeSpan.FromSeconds(2));
        Assert.Equal(3, _api.Requests.Count);
    }

    [Fact]
    public async Task When_the_stream_is_unavailable_an_answer_makes_the_panel_poll_for_what_the_workers_extracted()
    {
        _api.Memories = [(_known, "Lives in Lisbon")];
        var panel = RenderPanel();

        await _api.WriteEventAsync("unavailable", """{"title":"Memory events unavailable","retryAfterSeconds":30}""");

        panel.WaitForAssertion(() => Assert.Equal("polling", panel.Find("[data-testid='memory-panel-live']").GetAttribute("data-mode")), Wait);
        Assert.Empty(panel.FindAll("[data-testid='memory-text']"));

        _api.Memories = [(_learned, "Works at Globex"), (_known, "Lives in Lisbon")];
        _context.Services.GetRequiredService<ChatExchanges>().NotifyCompleted();

        panel.WaitForAssertion(() => Assert.Equal(["Works at Globex", "Lives in Lisbon"], Texts(panel)), TimeSpan.FromSeconds(10));
        Assert.Single(panel.FindAll("[data-testid='memory-new']"));
        Assert.Equal(["GET /v1/memories/events", "GET /v1/memories"], _api.Requests);
    }

    public void Dispose()
    {
        _context.Dispose();
        _api.Dispose();
    }

    private IRenderedComponent<MemoryPanelLive> RenderPanel() =>
        _context.Render<MemoryPanelLive>(p => p
            .Add(c => c.KnownIds, [_known])
            .Add(c => c.ReturnUrl, "/c/c-1"));

    private static List<string> Texts(IRenderedComponent<MemoryPanelLive> panel) =>
        [.. panel.FindAll("[data-testid='memory-text']").Select(e => e.TextContent)];

    private sealed class NoAntiforgery : AntiforgeryStateProvider
    {
        public override AntiforgeryRequestToken? GetAntiforgeryToken() => null;
    }

    // GET /v1/memories/events: an event stream that stays open and carries what the test writes; GET /v1/memories:
    // the current Memories as a page.
    private sealed class ScriptedMemoryApi : HttpMessageHandler
    {
        // Not on the test's or the renderer's synchronization context: the reader resumes on the thread pool, as a socket would.
        private readonly Pipe _events = new(new PipeOptions(readerScheduler: PipeScheduler.ThreadPool, writerScheduler: PipeScheduler.ThreadPool,
            useSynchronizationContext: false));

        public IReadOnlyList<(Guid Id, string Text)> Memories { get; set; } = [];

        public List<string> Requests { get; } = [];

        public async Task WriteEventAsync(string name, string data)
        {
            await _events.Writer.WriteAsync(Encoding.UTF8.GetBytes($"event: {name}\ndata: {data}\n\n"));
            if (name == "unavailable")
            {
                await _events.Writer.CompleteAsync();
            }
        }

        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            var path = request.RequestUri!.AbsolutePath;
            lock (Requests)
            {
                Requests.Add($"{request.Method} {path}");
            }
            if (path == "/v1/memories/events")
            {
                var content = new StreamContent(_events.Reader.AsStream());
                content.Headers.ContentType = new("text/event-stream");
                return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK) { Content = content });
            }
            var items = string.Join(',', Memories.Select(m => $$"""
                {"id":"{{m.Id}}","scope":"user","type":"semantic","text":"{{m.Text}}","importance":0.5,"createdAt":"2026-01-01T00:00:00Z","updatedAt":"2026-01-01T00:00:00Z","validFrom":"2026-01-01T00:00:00Z","isCurrent":true,"lineageId":"{{m.Id}}"}
                """));
            return Task.FromResult(new HttpResponseMessage(HttpStatusCode.OK)
            {
                Content = new StringContent($$"""{"items":[{{items}}],"nextCursor":null}""", Encoding.UTF8, "application/json"),
            });
        }
    }
}
