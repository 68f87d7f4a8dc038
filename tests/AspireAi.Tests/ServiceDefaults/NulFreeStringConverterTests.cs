using System.Text.Json;
using AspireAi.ServiceDefaults.ErrorHandling;

namespace AspireAi.Tests.ServiceDefaults;

public sealed class NulFreeStringConverterTests
{
    private static readonly JsonSerializerOptions Options = new(JsonSerializerDefaults.Web) { Converters = { new NulFreeStringConverter() } };

    [Fact]
    public void String_keyed_dictionaries_round_trip()
    {
        // The developer exception page serialises the request headers this way; it failed with NotSupportedException.
        var json = JsonSerializer.Serialize(new Dictionary<string, string> { ["Accept"] = "text/event-stream" }, Options);
        Assert.Equal("{\"Accept\":\"text/event-stream\"}", json);
        Assert.Equal("text/event-stream", JsonSerializer.Deserialize<Dictionary<string, string>>(json, Options)!["Accept"]);
    }

    [Fact]
    public void A_NUL_in_a_key_is_refused_like_one_in_a_value()
    {
        Assert.Throws<RejectedTextException>(() => JsonSerializer.Deserialize<Dictionary<string, string>>("{\"a\\u0000b\":\"x\"}", Options));
        Assert.Throws<RejectedTextException>(() => JsonSerializer.Deserialize<Dictionary<string, string>>("{\"a\":\"x\\u0000\"}", Options));
    }
}
