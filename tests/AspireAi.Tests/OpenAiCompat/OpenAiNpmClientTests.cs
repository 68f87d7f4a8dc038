using System.Diagnostics;
using System.Text.Json;
using AspireAi.Tests.Auth;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.OpenAiCompat;

/// <summary>
/// The Api on a real socket, and the official <c>openai</c> npm package (installed next to its scenarios on first use,
/// then reused) to drive it with Node.
/// </summary>
public sealed class OpenAiNpmFixture : IAsyncLifetime
{
    private const string PackageVersion = "7.55.0";

    public ApiFactory Api { get; } = new();

    public Uri BaseAddress { get; private set; } = null!;

    public string ScriptDirectory { get; } = Path.Combine(AppContext.BaseDirectory, "OpenAiCompat", "node");

    public async Task InitializeAsync()
    {
        await Api.InitializeAsync();
        BaseAddress = Api.StartOnKestrel();
        await InstallAsync();
    }

    public async Task DisposeAsync() => await Api.DisposeAsync();

    // Idempotent: a present package of the right version is kept; npm runs only the first time (or after a clean).
    private async Task InstallAsync()
    {
        var installed = Path.Combine(ScriptDirectory, "node_modules", "openai", "package.json");
        if (File.Exists(installed) && JsonDocument.Parse(await File.ReadAllTextAsync(installed)).RootElement.GetProperty("version").GetString() == PackageVersion)
        {
            return;
        }
        var (exitCode, output) = await RunAsync("npm", ["install", "--no-audit", "--no-fund", "--no-package-lock", "--loglevel=error"], ScriptDirectory,
            new Dictionary<string, string>(), TimeSpan.FromMinutes(5));
        if (exitCode != 0 || !File.Exists(installed))
        {
            throw new InvalidOperationException($"npm install of openai@{PackageVersion} failed ({exitCode}):\n{output}");
        }
    }

    public async Task<JsonElement> RunScenarioAsync(string scenario, string apiKey)
    {
        var (exitCode, output) = await RunAsync("node", ["scenarios.mjs", scenario], ScriptDirectory, new Dictionary<string, string>
        {
            ["AAI_BASE_URL"] = new Uri(BaseAddress, "/v1").ToString(),
            ["AAI_API_KEY"] = apiKey,
        }, TimeSpan.FromMinutes(2));
        Assert.True(exitCode == 0, $"node scenarios.mjs {scenario} exited with {exitCode}:\n{output}");
        var lastLine = output.Split('\n', StringSplitOptions.RemoveEmptyEntries)[^1];
        return JsonDocument.Parse(lastLine).RootElement.Clone();
    }

    private static async Task<(int ExitCode, string Output)> RunAsync(string fileName, string[] arguments, string workingDirectory,
        Dictionary<string, string> environment, TimeSpan timeout)
    {
        var start = new ProcessStartInfo(fileName, arguments)
        {
            WorkingDirectory = workingDirectory,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var (key, value) in environment)
        {
            start.Environment[key] = value;
        }
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var cancel = new CancellationTokenSource(timeout);
        try
        {
            await process.WaitForExitAsync(cancel.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{fileName} {string.Join(' ', arguments)} did not finish within {timeout}.");
        }
        return (process.ExitCode, await stdout + await stderr);
    }
}

public sealed class OpenAiNpmClientTests(OpenAiNpmFixture fixture) : IClassFixture<OpenAiNpmFixture>
{
    private ApiFactory Api => fixture.Api;

    [Fact]
    public async Task A_plain_completion()
    {
        var caller = await Api.CreateApiKeyUserAsync();

        var result = await fixture.RunScenarioAsync("plain", caller.ApiKey);

        Assert.Equal("chat.completion", result.GetProperty("object").GetString());
        Assert.Equal(OpenAiCompatTestData.ChatModel, result.GetProperty("model").GetString());
        var choice = result.GetProperty("choices")[0];
        Assert.Equal("stop", choice.GetProperty("finish_reason").GetString());
        Assert.Equal("assistant", choice.GetProperty("message").GetProperty("role").GetString());
        Assert.StartsWith("(offline model)", choice.GetProperty("message").GetProperty("content").GetString(), StringComparison.Ordinal);
        var total = result.GetProperty("usage").GetProperty("total_tokens").GetInt64();
        Assert.Equal(total, await Api.ScalarAsync<long>("SELECT sum(input_tokens + output_tokens) FROM usage_ledger WHERE user_id = $1 AND operation = 'chat'", caller.User.Id));
    }

    [Fact]
    public async Task A_streamed_completion_with_usage_last()
    {
        var caller = await Api.CreateApiKeyUserAsync();

        var result = await fixture.RunScenarioAsync("stream", caller.ApiKey);

        Assert.True(result.GetProperty("chunks").GetInt32() > 3);
        Assert.Equal("stop", result.GetProperty("finish").GetString());
        Assert.StartsWith("(offline model)", result.GetProperty("text").GetString(), StringComparison.Ordinal);
        Assert.Equal(0, result.GetProperty("usageChunkChoices").GetInt32());
        var usage = result.GetProperty("usage");
        Assert.Equal(usage.GetProperty("prompt_tokens").GetInt32() + usage.GetProperty("completion_tokens").GetInt32(), usage.GetProperty("total_tokens").GetInt32());
        Assert.Equal(usage.GetProperty("total_tokens").GetInt64(),
            await Api.ScalarAsync<long>("SELECT sum(input_tokens + output_tokens) FROM usage_ledger WHERE user_id = $1", caller.User.Id));
    }

    [Fact]
    public async Task A_tool_round_trip()
    {
        var caller = await Api.CreateApiKeyUserAsync();

        var result = await fixture.RunScenarioAsync("tools", caller.ApiKey);

        var first = result.GetProperty("first").GetProperty("choices")[0];
        Assert.Equal("tool_calls", first.GetProperty("finish_reason").GetString());
        var call = first.GetProperty("message").GetProperty("tool_calls")[0];
        Assert.Equal("function", call.GetProperty("type").GetString());
        Assert.Equal("get_weather", call.GetProperty("function").GetProperty("name").GetString());
        using var arguments = JsonDocument.Parse(call.GetProperty("function").GetProperty("arguments").GetString()!);
        Assert.Contains("Porto", arguments.RootElement.GetProperty("city").GetString(), StringComparison.OrdinalIgnoreCase);
        var second = result.GetProperty("second").GetProperty("choices")[0];
        Assert.Equal("stop", second.GetProperty("finish_reason").GetString());
        Assert.Contains("get_weather tool returned: Rainy, 15 degrees", second.GetProperty("message").GetProperty("content").GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_json_schema_answer()
    {
        var caller = await Api.CreateApiKeyUserAsync();

        var result = await fixture.RunScenarioAsync("json_schema", caller.ApiKey);

        var parsed = result.GetProperty("parsed");
        Assert.Equal(["name", "population"], parsed.EnumerateObject().Select(p => p.Name).Order(StringComparer.Ordinal));
        Assert.Equal(JsonValueKind.String, parsed.GetProperty("name").ValueKind);
        Assert.True(parsed.GetProperty("population").TryGetInt64(out _));
    }

    [Fact]
    public async Task Embeddings_in_base64_decoded_by_the_client()
    {
        var caller = await Api.CreateApiKeyUserAsync();

        var result = await fixture.RunScenarioAsync("embeddings", caller.ApiKey);

        Assert.Equal(2, result.GetProperty("count").GetInt32());
        Assert.All(result.GetProperty("dims").EnumerateArray(), d => Assert.Equal(384, d.GetInt32()));
        Assert.All(result.GetProperty("first").EnumerateArray(), v => Assert.InRange(v.GetDouble(), -1, 1));
        Assert.Equal(OpenAiCompatTestData.EmbeddingModel, result.GetProperty("model").GetString());
        Assert.True(result.GetProperty("usage").GetProperty("prompt_tokens").GetInt32() > 0);
    }

    [Fact]
    public async Task An_invalid_request_is_an_APIError_with_OpenAIs_fields()
    {
        var caller = await Api.CreateApiKeyUserAsync();

        var result = await fixture.RunScenarioAsync("error", caller.ApiKey);

        Assert.True(result.GetProperty("thrown").GetBoolean());
        Assert.Equal("BadRequestError", result.GetProperty("name").GetString());
        Assert.Equal(400, result.GetProperty("status").GetInt32());
        Assert.Equal("invalid_request_error", result.GetProperty("type").GetString());
        Assert.Equal("messages", result.GetProperty("param").GetString());
        Assert.Equal(0L, await Api.ScalarAsync<long>("SELECT count(*) FROM usage_ledger WHERE user_id = $1", caller.User.Id));
    }
}
