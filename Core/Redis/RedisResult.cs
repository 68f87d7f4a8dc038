using System.Globalization;
using System.Text;

namespace AspireAi.Core.Redis;

/// <summary>
/// One RESP2 reply: null, simple string, error (only when nested in an array), integer, bulk string or array.
/// Returned by <see cref="IRedisClient.ScriptEvaluateAsync"/> and <see cref="IRedisClient.ExecuteAsync(string, object[])"/>.
/// </summary>
public sealed class RedisResult
{
    private static readonly RedisResult[] SmallIntegers = CreateSmallIntegers();

    private readonly object? _value;
    private readonly long _integer;

    private RedisResult(RedisResultType type, object? value, long integer = 0)
    {
        Type = type;
        _value = value;
        _integer = integer;
    }

    /// <summary>The null reply (nil bulk string or nil array).</summary>
    public static RedisResult Null { get; } = new(RedisResultType.Null, null);

    internal static RedisResult Ok { get; } = new(RedisResultType.SimpleString, "OK");

    /// <summary>The kind of reply.</summary>
    public RedisResultType Type { get; }

    /// <summary>True for a nil bulk string or nil array.</summary>
    public bool IsNull => Type == RedisResultType.Null;

    /// <summary>The error text when <see cref="Type"/> is <see cref="RedisResultType.Error"/>, otherwise null.</summary>
    public string? ErrorMessage => Type == RedisResultType.Error ? (string)_value! : null;

    internal static RedisResult SimpleString(string value) => new(RedisResultType.SimpleString, value);

    internal static RedisResult Error(string message) => new(RedisResultType.Error, message);

    internal static RedisResult BulkString(byte[] value) => new(RedisResultType.BulkString, value);

    internal static RedisResult Array(RedisResult[] items) => new(RedisResultType.Array, items);

    internal static RedisResult Integer(long value) =>
        value is >= -2 and < 126 ? SmallIntegers[value + 2] : new(RedisResultType.Integer, null, value);

    /// <summary>The reply as text: bulk strings are decoded as UTF-8, integers formatted invariantly; null stays null.</summary>
    /// <exception cref="InvalidCastException">The reply is an array.</exception>
    public string? AsString() => Type switch
    {
        RedisResultType.Null => null,
        RedisResultType.SimpleString or RedisResultType.Error => (string)_value!,
        RedisResultType.BulkString => Encoding.UTF8.GetString((byte[])_value!),
        RedisResultType.Integer => _integer.ToString(CultureInfo.InvariantCulture),
        _ => throw InvalidCast("a string"),
    };

    /// <summary>The reply as raw bytes; null stays null.</summary>
    /// <exception cref="InvalidCastException">The reply is an array.</exception>
    public byte[]? AsBytes() => Type switch
    {
        RedisResultType.Null => null,
        RedisResultType.BulkString => (byte[])_value!,
        RedisResultType.Array => throw InvalidCast("bytes"),
        _ => Encoding.UTF8.GetBytes(AsString()!),
    };

    /// <summary>The reply as an integer: integer replies directly, strings parsed invariantly.</summary>
    /// <exception cref="InvalidCastException">The reply is null, an array, or not a number.</exception>
    public long AsInt64()
    {
        if (Type == RedisResultType.Integer)
        {
            return _integer;
        }
        return Type is RedisResultType.BulkString or RedisResultType.SimpleString
            && long.TryParse(AsString(), NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var value)
            ? value
            : throw InvalidCast("an integer");
    }

    /// <summary>The reply as a double (Redis spells infinities <c>inf</c>/<c>-inf</c>).</summary>
    /// <exception cref="InvalidCastException">The reply is null, an array, or not a number.</exception>
    public double AsDouble()
    {
        if (Type == RedisResultType.Integer)
        {
            return _integer;
        }
        var text = Type is RedisResultType.BulkString or RedisResultType.SimpleString ? AsString() : null;
        return text switch
        {
            "inf" or "+inf" => double.PositiveInfinity,
            "-inf" => double.NegativeInfinity,
            _ when double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) => value,
            _ => throw InvalidCast("a double"),
        };
    }

    /// <summary>The elements of an array reply, or null for the nil reply.</summary>
    /// <exception cref="InvalidCastException">The reply is neither an array nor null.</exception>
    public IReadOnlyList<RedisResult>? AsArray() => Type switch
    {
        RedisResultType.Array => (RedisResult[])_value!,
        RedisResultType.Null => null,
        _ => throw InvalidCast("an array"),
    };

    /// <summary>A redis-cli-like rendering, for diagnostics.</summary>
    public override string ToString() => Type switch
    {
        RedisResultType.Null => "(nil)",
        RedisResultType.Integer => $"(integer) {_integer.ToString(CultureInfo.InvariantCulture)}",
        RedisResultType.Error => $"(error) {_value}",
        RedisResultType.Array => $"(array of {((RedisResult[])_value!).Length})",
        _ => $"\"{AsString()}\"",
    };

    private InvalidCastException InvalidCast(string target) =>
        new($"A Redis {Type} reply cannot be read as {target}.");

    private static RedisResult[] CreateSmallIntegers()
    {
        // Counters, booleans (0/1) and PTTL's -1/-2 dominate integer replies; sharing them avoids an allocation each.
        var values = new RedisResult[128];
        for (var i = 0; i < values.Length; i++)
        {
            values[i] = new RedisResult(RedisResultType.Integer, null, i - 2);
        }
        return values;
    }
}
