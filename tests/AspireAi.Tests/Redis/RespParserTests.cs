using System.Buffers;
using System.Text;
using AspireAi.Core.Redis;

namespace AspireAi.Tests.Redis;

public sealed class RespParserTests
{
    public static TheoryData<string> TrickyFrames => new()
    {
        "+OK\r\n",
        "-ERR wrong number of arguments for 'get' command\r\n",
        ":-9223372036854775808\r\n",
        "$-1\r\n",
        "*-1\r\n",
        "$0\r\n\r\n",
        "*0\r\n",
        "$13\r\nline\r\nbreak\r\n\r\n",
        "*3\r\n:1\r\n*2\r\n$1\r\na\r\n*1\r\n$-1\r\n-NOSCRIPT nested\r\n",
        "*2\r\n*-1\r\n*1\r\n*1\r\n*1\r\n+deep\r\n",
    };

    [Theory]
    [MemberData(nameof(TrickyFrames))]
    public void A_frame_split_at_every_byte_boundary_is_parsed_only_when_complete_and_identically(string frame)
    {
        var bytes = Encoding.UTF8.GetBytes(frame);
        var expected = Describe(ParseSingle(bytes));

        for (var split = 0; split <= bytes.Length; split++)
        {
            // The prefix alone must be reported as incomplete and left unconsumed...
            if (split < bytes.Length)
            {
                var prefix = new ReadOnlySequence<byte>(bytes, 0, split);
                Assert.False(RespParser.TryRead(ref prefix, out _));
                Assert.Equal(split, prefix.Length);
            }
            // ...and the frame arriving in two reads must parse to the same value as one contiguous read.
            var sequence = TestSequence.Create(bytes[..split], bytes[split..]);
            Assert.True(RespParser.TryRead(ref sequence, out var result));
            Assert.Equal(expected, Describe(result));
            Assert.Equal(0, sequence.Length);
        }
    }

    [Fact]
    public void A_frame_delivered_one_byte_per_segment_parses()
    {
        var bytes = Encoding.UTF8.GetBytes("*2\r\n$5\r\na\r\nb\0\r\n:42\r\n");
        var sequence = TestSequence.Create(bytes.Select(b => new[] { b }).ToArray());

        Assert.True(RespParser.TryRead(ref sequence, out var result));

        var items = result.AsArray()!;
        Assert.Equal("a\r\nb\0"u8.ToArray(), items[0].AsBytes());
        Assert.Equal(42, items[1].AsInt64());
    }

    [Fact]
    public void Consecutive_frames_are_read_one_at_a_time_and_a_trailing_partial_frame_is_left()
    {
        var sequence = new ReadOnlySequence<byte>("+OK\r\n:7\r\n$3\r\nab"u8.ToArray());

        Assert.True(RespParser.TryRead(ref sequence, out var first));
        Assert.True(RespParser.TryRead(ref sequence, out var second));
        Assert.False(RespParser.TryRead(ref sequence, out _));

        Assert.Equal("OK", first.AsString());
        Assert.Equal(7, second.AsInt64());
        Assert.Equal("$3\r\nab"u8.ToArray(), sequence.ToArray());
    }

    [Fact]
    public void Null_bulk_and_null_array_are_null_and_empty_values_are_not()
    {
        Assert.True(ParseSingle("$-1\r\n"u8.ToArray()).IsNull);
        Assert.Null(ParseSingle("*-1\r\n"u8.ToArray()).AsArray());
        Assert.Equal("", ParseSingle("$0\r\n\r\n"u8.ToArray()).AsString());
        Assert.Empty(ParseSingle("*0\r\n"u8.ToArray()).AsArray()!);
    }

    [Fact]
    public void Nested_errors_are_values_with_the_server_text()
    {
        var result = ParseSingle("*2\r\n-WRONGTYPE Operation against a key\r\n:1\r\n"u8.ToArray());

        var items = result.AsArray()!;
        Assert.Equal(RedisResultType.Error, items[0].Type);
        Assert.Equal("WRONGTYPE Operation against a key", items[0].ErrorMessage);
    }

    [Theory]
    [InlineData("!3\r\nabc\r\n")]
    [InlineData(":12a\r\n")]
    [InlineData("$-5\r\n")]
    [InlineData("$3\r\nabcd\r\n")]
    [InlineData("*-2\r\n")]
    public void Malformed_input_is_a_protocol_error(string frame)
    {
        var sequence = new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(frame));

        Assert.Throws<InvalidDataException>(() => RespParser.TryRead(ref sequence, out _));
    }

    [Fact]
    public void A_length_line_that_never_ends_is_a_protocol_error_rather_than_an_endless_wait()
    {
        var sequence = new ReadOnlySequence<byte>(Encoding.ASCII.GetBytes("$" + new string('9', 40)));

        Assert.Throws<InvalidDataException>(() => RespParser.TryRead(ref sequence, out _));
    }

    private static RedisResult ParseSingle(byte[] bytes)
    {
        var sequence = new ReadOnlySequence<byte>(bytes);
        Assert.True(RespParser.TryRead(ref sequence, out var result));
        Assert.Equal(0, sequence.Length);
        return result;
    }

    private static string Describe(RedisResult result) => result.Type switch
    {
        RedisResultType.Array => "[" + string.Join(",", result.AsArray()!.Select(Describe)) + "]",
        RedisResultType.Null => "nil",
        RedisResultType.BulkString => "$" + Convert.ToHexString(result.AsBytes()!),
        _ => $"{result.Type}:{result.AsString()}",
    };
}
