using System.Buffers.Binary;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.Json;
using AspireAi.Api.Admission;
using AspireAi.Api.Auth;
using AspireAi.Api.Extensions;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using AspireAi.Core.Jobs;
using AspireAi.Core.Llm;
using AspireAi.Core.Memory;
using AspireAi.ServiceDefaults;
using Microsoft.AspNetCore.Http.HttpResults;
using Microsoft.Extensions.AI;
using Microsoft.Extensions.Compliance.Classification;
using Microsoft.Extensions.Compliance.Redaction;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Api.OpenAiCompat;

/// <summary>
/// The OpenAI-compatible surface: <c>POST /v1/chat/completions</c>, <c>POST /v1/embeddings</c>, <c>GET /v1/models</c>.
/// A completion runs through the native chat pipeline for the owner of the bearer credential: the same system prompt,
/// memories and documents, the project's tools next to the client's own (which the model may call; those calls are
/// returned to the client to run), the same budget, ledger and memory extraction.
/// </summary>
public static partial class OpenAiCompatApi
{
    /// <summary>Names a conversation of the caller that the exchange is stored in (or the metadata key of the same name).</summary>
    public const string ConversationHeader = "X-AspireAi-Conversation";

    /// <summary>The <c>metadata</c> entry that names the conversation when the client cannot set headers.</summary>
    public const string ConversationMetadataKey = "aspireai_conversation_id";

    private const int MaxEmbeddingInputs = 256;
    private const int MaxEmbeddingInputChars = 32_000;

    public static RouteGroupBuilder MapOpenAiCompatApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1").WithTags("OpenAI").RequireAuthorization().RequireScope(ApiKeyScopes.Chat);
        group.MapPost("/chat/completions", CreateChatCompletion)
            .WithChatAdmission()
            .Accepts<ChatCompletionRequest>("application/json")
            .Produces<ChatCompletion>(StatusCodes.Status200OK, "application/json", "text/event-stream")
            .ProducesOpenAiErrors(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound,
                StatusCodes.Status429TooManyRequests, StatusCodes.Status500InternalServerError, StatusCodes.Status503ServiceUnavailable)
            .WithDescription("OpenAI Chat Completions. With \"stream\": true the answer is Server-Sent Events of chat.completion.chunk objects ending with [DONE].");
        group.MapPost("/embeddings", CreateEmbeddings)
            .Accepts<EmbeddingsRequest>("application/json")
            .Produces<EmbeddingsResponse>()
            .ProducesOpenAiErrors(StatusCodes.Status400BadRequest, StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound,
                StatusCodes.Status429TooManyRequests, StatusCodes.Status500InternalServerError);
        group.MapGet("/models", ListModels)
            .ProducesOpenAiErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status500InternalServerError);
        group.MapGet("/models/{model}", GetModel)
            .ProducesOpenAiErrors(StatusCodes.Status401Unauthorized, StatusCodes.Status404NotFound, StatusCodes.Status500InternalServerError);
        return group;
    }

    private static RouteHandlerBuilder ProducesOpenAiErrors(this RouteHandlerBuilder builder, params int[] statuses)
    {
        foreach (var status in statuses)
        {
            builder.Produces<OpenAiErrorResponse>(status);
        }
        return builder;
    }

    public sealed record CompletionServices(
        ChatService Chat, MemoryService Memory, IOptions<ChatSettings> Settings, IOptions<LlmOptions> Llm,
        IOptions<MemoryOptions> MemoryOptions, ILoggerFactory Loggers, IRedactorProvider Redactors, PreparationGate Gate);

    public static async Task<Results<EmptyHttpResult, JsonHttpResult<ChatCompletion>, JsonHttpResult<OpenAiErrorResponse>>> CreateChatCompletion(
        HttpContext http, [AsParameters] CompletionServices services)
    {
        var (body, bodyError) = await OpenAiRequestReader.ReadBodyAsync<ChatCompletionRequest>(http.Request);
        if (bodyError is not null)
        {
            return bodyError;
        }
        if (string.IsNullOrWhiteSpace(body!.Model))
        {
            return OpenAiErrors.Invalid("model", "'model' is required; GET /v1/models lists the models.");
        }
        if (!ChatModels(services.Llm.Value).Contains(body.Model))
        {
            return ModelNotFound(body.Model);
        }
        var (request, invalid) = OpenAiRequestReader.Read(body, services.Settings.Value.MaxInputChars);
        if (invalid is not null)
        {
            return invalid;
        }
        var (conversationId, conversationError) = ConversationOf(http.Request, body);
        if (conversationError is not null)
        {
            return conversationError;
        }

        var user = http.User.GetCurrentUser();
        // Rate limits are the Api's shared ones (the chat class, RateLimiting/), applied before this handler runs.
        if (body.User is { Length: > 0 } endUser
            && services.Redactors.GetRedactor(new DataClassificationSet(DataTaxonomy.PersonalData)).Redact(endUser) is { Length: > 0 } shownUser)
        {
            // OpenAI's end-user id, often an e-mail address: on the trace for attribution only when content capture lets
            // personal data through. The caller is still the credential's owner.
            Activity.Current?.SetTag("aspireai.openai.user", shownUser);
        }

        ChatPreparation prepared;
        using (var slot = await services.Gate.EnterAsync(http.RequestAborted))
        {
            if (!slot.Admitted)
            {
                return PreparationGate.OpenAiRefusal(http, slot);
            }
            prepared = await services.Chat.PrepareClientTurnAsync(new ClientTurnRequest(user.UserId, user.OrgId, conversationId, request!.Messages,
                options => Configure(options, request)), http.RequestAborted);
        }
        switch (prepared.Rejection)
        {
            case ChatRejection.ConversationNotFound:
                return OpenAiErrors.Result(StatusCodes.Status404NotFound, $"Conversation '{conversationId}' was not found.", "conversation", "conversation_not_found");
            case ChatRejection.BudgetExceeded:
                var resetsAt = prepared.BudgetResetsAt!.Value;
                http.Response.Headers.RetryAfter = Math.Max(1, (int)Math.Ceiling((resetsAt - DateTimeOffset.UtcNow).TotalSeconds)).ToString(CultureInfo.InvariantCulture);
                return OpenAiErrors.Result(StatusCodes.Status429TooManyRequests,
                    $"You have used {prepared.TokensUsed} of {prepared.TokenBudget} tokens today. The budget resets at {resetsAt:O}.", code: "insufficient_quota");
        }

        var turn = prepared.Turn!;
        var clientTools = request.Tools.Select(t => t.Name).ToHashSet(StringComparer.Ordinal);
        var completion = new CompletionState(turn, body.Model, clientTools, DateTimeOffset.UtcNow.ToUnixTimeSeconds());
        var events = services.Chat.StreamAsync(turn, http.RequestAborted);
        if (request.Stream)
        {
            await StreamAsync(http, completion, events, request.IncludeUsage, services);
            return TypedResults.Empty;
        }

        await foreach (var item in events)
        {
            if (completion.Apply(item) is { } error)
            {
                return OpenAiErrors.Result(error.Status, error.Detail, code: error.Status == StatusCodes.Status504GatewayTimeout ? "timeout" : "model_unavailable");
            }
        }
        if (completion.Done is not { } done)
        {
            throw new InvalidOperationException("The chat stream ended without a done or error event.");
        }
        await FeedMemoryAsync(turn, completion.Answer, services);
        return TypedResults.Json(new ChatCompletion(completion.Id, "chat.completion", completion.Created, done.Model,
            [new ChatCompletionChoice(0, new AssistantMessage("assistant", completion.ToolCalls.Count > 0 && completion.Answer.Length == 0 ? null : completion.Answer,
                completion.ToolCalls.Count > 0 ? completion.ToolCalls : null), completion.FinishReason)],
            new CompletionUsage(done.InputTokens, done.OutputTokens, done.InputTokens + done.OutputTokens)), OpenAiJson.Options);
    }

    private static void Configure(ChatOptions options, ClientChatRequest request)
    {
        // A client tool replaces a project tool of the same name: the client asked for it and will run it.
        var tools = (options.Tools ?? []).Where(t => request.Tools.All(c => c.Name != t.Name)).ToList();
        tools.AddRange(request.Tools);
        options.Tools = tools;
        options.ToolMode = request.ToolMode ?? options.ToolMode;
        options.ResponseFormat = request.ResponseFormat;
        options.Temperature = request.Temperature ?? options.Temperature;
        options.MaxOutputTokens = request.MaxOutputTokens ?? options.MaxOutputTokens;
    }

    private static (Guid? Id, JsonHttpResult<OpenAiErrorResponse>? Error) ConversationOf(HttpRequest request, ChatCompletionRequest body)
    {
        var header = request.Headers[ConversationHeader].ToString();
        var fromMetadata = body.Metadata?.GetValueOrDefault(ConversationMetadataKey);
        var value = header.Length > 0 ? header : fromMetadata;
        if (string.IsNullOrEmpty(value))
        {
            return (null, null);
        }
        return Guid.TryParse(value, out var id)
            ? (id, null)
            : (null, OpenAiErrors.Invalid(header.Length > 0 ? ConversationHeader : $"metadata.{ConversationMetadataKey}", "The conversation id must be a UUID."));
    }

    private static async Task StreamAsync(HttpContext http, CompletionState completion, IAsyncEnumerable<ChatEvent> events, bool includeUsage, CompletionServices services)
    {
        await http.StartEventStreamAsync();

        await WriteChunkAsync(http, completion.Chunk(new ChunkDelta("assistant", "", null), null, usage: null));
        await foreach (var item in events)
        {
            var toolCallsBefore = completion.ToolCalls.Count;
            if (completion.Apply(item) is { } error)
            {
                await WriteDataAsync(http, JsonSerializer.Serialize(OpenAiErrors.Body(error.Status, error.Detail,
                    code: error.Status == StatusCodes.Status504GatewayTimeout ? "timeout" : "model_unavailable")));
                return;
            }
            switch (item)
            {
                case DeltaEvent delta:
                    await WriteChunkAsync(http, completion.Chunk(new ChunkDelta(null, delta.Text, null), null, usage: null));
                    break;
                case ToolCallEvent when completion.ToolCalls.Count > toolCallsBefore:
                    var call = completion.ToolCalls[^1];
                    await WriteChunkAsync(http, completion.Chunk(
                        new ChunkDelta(null, null, [new ChunkToolCall(completion.ToolCalls.Count - 1, call.Id!, "function", call.Function!)]), null, usage: null));
                    break;
                case DoneEvent done:
                    await FeedMemoryAsync(completion.Turn, completion.Answer, services);
                    await WriteChunkAsync(http, completion.Chunk(new ChunkDelta(null, null, null), completion.FinishReason, usage: null) with { Model = done.Model });
                    if (includeUsage)
                    {
                        // As OpenAI does: one last chunk with no choices and the whole exchange's usage.
                        await WriteChunkAsync(http, new ChatCompletionChunk(completion.Id, "chat.completion.chunk", completion.Created, done.Model, [],
                            new CompletionUsage(done.InputTokens, done.OutputTokens, done.InputTokens + done.OutputTokens)));
                    }
                    await WriteDataAsync(http, "[DONE]");
                    break;
            }
        }
    }

    private static Task WriteChunkAsync(HttpContext http, ChatCompletionChunk chunk) =>
        WriteDataAsync(http, JsonSerializer.Serialize(chunk, OpenAiJson.Options));

    private static async Task WriteDataAsync(HttpContext http, string data)
    {
        await http.Response.WriteAsync($"data: {data}\n\n", http.RequestAborted);
        await http.Response.Body.FlushAsync(http.RequestAborted);
    }

    /// <summary>
    /// An exchange stored in a conversation feeds memory extraction inside the transaction that completes it (as native
    /// chat does); one without a conversation is handed to extraction as an API source of the same two messages.
    /// </summary>
    private static async Task FeedMemoryAsync(ChatTurn turn, string answer, CompletionServices services)
    {
        if (turn.Conversation is not null || !services.MemoryOptions.Value.ExtractFromChat || turn.UserText.Length == 0)
        {
            return;
        }
        try
        {
            await services.Memory.RequestExtractionAsync(new MemoryCaller(turn.UserId, turn.OrgId, IsAdmin: false), MemoryScopeRef.ForUser(turn.OrgId, turn.UserId),
                "default", [("user", turn.UserText), ("assistant", answer)], JsonSerializer.SerializeToElement(new { source = "openai.chat.completions" }),
                CancellationToken.None);
        }
        catch (JobQueueFullException ex)
        {
            // The answer stands; extraction of this one exchange is skipped rather than failing the completion.
            LogExtractionSkipped(services.Loggers.CreateLogger(typeof(OpenAiCompatApi)), ex);
        }
    }

    /// <summary>Folds the chat events into OpenAI terms: text, the client's tool calls, the finish reason.</summary>
    private sealed class CompletionState(ChatTurn turn, string requestedModel, HashSet<string> clientTools, long created)
    {
        private readonly StringBuilder _answer = new();

        public ChatTurn Turn => turn;
        public string Id { get; } = "chatcmpl-" + turn.AssistantMessageId.ToString("N");
        public long Created => created;
        public string Answer => _answer.ToString();
        public List<ToolCall> ToolCalls { get; } = [];
        public DoneEvent? Done { get; private set; }

        // "length" when the answer used the whole token allowance: the model was cut off, not finished.
        public string FinishReason => ToolCalls.Count > 0 ? "tool_calls"
            : Done is { } done && turn.Options.MaxOutputTokens is { } max && done.OutputTokens >= max ? "length"
            : "stop";

        public ErrorEvent? Apply(ChatEvent item)
        {
            switch (item)
            {
                case DeltaEvent delta:
                    _answer.Append(delta.Text);
                    break;
                case ToolCallEvent call when clientTools.Contains(call.Name):
                    // The project's own tools ran on the server already; only the client's calls go back to it.
                    ToolCalls.Add(new ToolCall(call.Id, "function", new FunctionCall(call.Name, call.Arguments.GetRawText())));
                    break;
                case DoneEvent done:
                    Done = done;
                    break;
                case ErrorEvent error:
                    return error;
            }
            return null;
        }

        public ChatCompletionChunk Chunk(ChunkDelta delta, string? finishReason, CompletionUsage? usage) =>
            new(Id, "chat.completion.chunk", created, requestedModel, [new ChunkChoice(0, delta, finishReason)], usage);
    }

    public static async Task<Results<JsonHttpResult<EmbeddingsResponse>, JsonHttpResult<OpenAiErrorResponse>>> CreateEmbeddings(
        HttpContext http, IEmbeddingGenerator<string, Embedding<float>> generator, UsageLedger ledger, NpgsqlDataSource dataSource,
        IOptions<LlmOptions> llm, IOptions<ChatSettings> settings, IOptions<PricingSettings> pricing)
    {
        var (body, bodyError) = await OpenAiRequestReader.ReadBodyAsync<EmbeddingsRequest>(http.Request);
        if (bodyError is not null)
        {
            return bodyError;
        }
        var model = llm.Value.ResolveEmbeddingModel();
        if (string.IsNullOrWhiteSpace(body!.Model))
        {
            return OpenAiErrors.Invalid("model", "'model' is required; GET /v1/models lists the models.");
        }
        if (!string.Equals(body.Model, model, StringComparison.Ordinal))
        {
            return ModelNotFound(body.Model);
        }
        var base64 = body.EncodingFormat switch
        {
            null or "float" => false,
            "base64" => true,
            _ => (bool?)null,
        };
        if (base64 is null)
        {
            return OpenAiErrors.Invalid("encoding_format", "'encoding_format' must be 'float' or 'base64'.");
        }
        if (body.Dimensions is { } dimensions && dimensions != EmbeddingDefaults.Dimensions)
        {
            return OpenAiErrors.Invalid("dimensions", $"The model '{model}' produces {EmbeddingDefaults.Dimensions} dimensions only.");
        }
        var (inputs, inputError) = ReadInputs(body.Input);
        if (inputError is not null)
        {
            return inputError;
        }

        var user = http.User.GetCurrentUser();
        var (dayStart, reset) = ledger.CurrentDay();
        var budget = settings.Value.DailyTokenBudget;
        if (budget > 0 && await ledger.TokensSinceAsync(user.UserId, dayStart, http.RequestAborted) is var used && used >= budget)
        {
            return OpenAiErrors.Result(StatusCodes.Status429TooManyRequests,
                $"You have used {used} of {budget} tokens today. The budget resets at {reset:O}.", code: "insufficient_quota");
        }

        var embeddings = await generator.GenerateAsync(inputs!, cancellationToken: http.RequestAborted);
        var reported = embeddings.Usage?.InputTokenCount;
        var tokens = (int)(reported ?? inputs!.Sum(i => (long)TokenCounter.Count(i, model)));
        await using (var connection = await dataSource.OpenConnectionAsync(http.RequestAborted))
        {
            var traceId = Activity.Current?.TraceId.ToString();
            await UsageLedger.RecordAsync(new UsageEntry(user.UserId, user.OrgId, null, null, traceId, "embeddings", model, tokens, 0,
                pricing.Value.CostOf(model, tokens, 0), reported is null, traceId), connection, null, http.RequestAborted);
        }

        var data = embeddings.Select((e, i) => new EmbeddingItem("embedding", i,
            base64.Value ? JsonSerializer.SerializeToElement(ToBase64(e.Vector.Span)) : JsonSerializer.SerializeToElement(e.Vector.ToArray()))).ToList();
        return TypedResults.Json(new EmbeddingsResponse("list", data, model, new EmbeddingsUsage(tokens, tokens)));
    }

    private static (List<string>? Inputs, JsonHttpResult<OpenAiErrorResponse>? Error) ReadInputs(JsonElement? input)
    {
        List<string> inputs;
        switch (input)
        {
            case { ValueKind: JsonValueKind.String } single:
                inputs = [single.GetString()!];
                break;
            case { ValueKind: JsonValueKind.Array } many when many.EnumerateArray().All(e => e.ValueKind == JsonValueKind.String):
                inputs = [.. many.EnumerateArray().Select(e => e.GetString()!)];
                break;
            default:
                return (null, OpenAiErrors.Invalid("input", "'input' must be a string or an array of strings (token arrays are not supported)."));
        }
        if (inputs.Count is 0 or > MaxEmbeddingInputs)
        {
            return (null, OpenAiErrors.Invalid("input", $"'input' must hold 1 to {MaxEmbeddingInputs} strings."));
        }
        for (var i = 0; i < inputs.Count; i++)
        {
            if (string.IsNullOrWhiteSpace(inputs[i]) || inputs[i].Length > MaxEmbeddingInputChars)
            {
                return (null, OpenAiErrors.Invalid($"input[{i}]", $"Each input must be 1 to {MaxEmbeddingInputChars} characters and not blank."));
            }
        }
        return (inputs, null);
    }

    // OpenAI's base64 encoding: the float32 values, little-endian, back to back.
    private static string ToBase64(ReadOnlySpan<float> vector)
    {
        var bytes = new byte[vector.Length * sizeof(float)];
        for (var i = 0; i < vector.Length; i++)
        {
            BinaryPrimitives.WriteSingleLittleEndian(bytes.AsSpan(i * sizeof(float)), vector[i]);
        }
        return Convert.ToBase64String(bytes);
    }

    public static Ok<ModelList> ListModels(IOptions<LlmOptions> llm) =>
        TypedResults.Ok(new ModelList("list", [.. AllModels(llm.Value).Select(Describe)]));

    public static Results<Ok<ModelInfo>, JsonHttpResult<OpenAiErrorResponse>> GetModel(string model, IOptions<LlmOptions> llm) =>
        AllModels(llm.Value).Contains(model) ? TypedResults.Ok(Describe(model)) : ModelNotFound(model);

    private static ModelInfo Describe(string id) => new(id, "model", 0, "aspireai");

    private static JsonHttpResult<OpenAiErrorResponse> ModelNotFound(string model) =>
        OpenAiErrors.Result(StatusCodes.Status404NotFound, $"The model '{model}' does not exist; GET /v1/models lists the models.", "model", "model_not_found");

    // The chat models the pipeline answers with: the primary and, when configured, the fallback.
    private static HashSet<string> ChatModels(LlmOptions options)
    {
        var models = new HashSet<string>(StringComparer.Ordinal) { options.ResolveChatModel() };
        if (options.Fallback is { } fallback)
        {
            models.Add(fallback.ResolveChatModel());
        }
        return models;
    }

    private static HashSet<string> AllModels(LlmOptions options) => [.. ChatModels(options), options.ResolveEmbeddingModel()];

    [LoggerMessage(Level = LogLevel.Warning, Message = "Memory extraction of an OpenAI-compatible exchange was skipped: the job queue is full")]
    private static partial void LogExtractionSkipped(ILogger logger, Exception exception);
}

/// <summary>Serialisation of the OpenAI shapes: fields that are null are left out, as OpenAI does for optional fields.</summary>
internal static class OpenAiJson
{
    public static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web)
    {
        DefaultIgnoreCondition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingNull,
    };
}
