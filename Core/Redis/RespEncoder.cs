using System.Buffers;
using System.Globalization;
using System.Text;

namespace AspireAi.Core.Redis;

/// <summary>
/// Encodes a command as a RESP2 array of bulk strings into one pooled buffer, sized exactly in a first pass so the
/// caller's thread does the encoding and the writer loop only copies bytes.
/// </summary>
internal static class RespEncoder
{
    private const int MaxNumberLength = 32;

    /// <summary>Encodes <paramref name="command"/> and its arguments. Return the buffer with <see cref="Return"/>.</summary>
    /// <exception cref="ArgumentException">An argument is null or of an unsupported type.</exception>
    public static byte[] Encode(string command, ReadOnlySpan<object> args, out int length)
    {
        var total = HeaderLength(args.Length + 1) + BulkLength(Encoding.UTF8.GetByteCount(command));
        foreach (var arg in args)
        {
            total += BulkLength(ByteCount(arg));
        }
        var buffer = ArrayPool<byte>.Shared.Rent(total);
        var span = buffer.AsSpan(0, total);
        var position = WriteHeader(span, (byte)'*', args.Length + 1);
        position += WriteBulk(span[position..], command);
        foreach (var arg in args)
        {
            position += WriteBulk(span[position..], arg);
        }
        length = position;
        return buffer;
    }

    /// <summary>Returns a buffer from <see cref="Encode"/>; clear it when it held a secret (AUTH).</summary>
    public static void Return(byte[] buffer, bool clear = false) => ArrayPool<byte>.Shared.Return(buffer, clear);

    private static int ByteCount(object arg) => arg switch
    {
        string text => Encoding.UTF8.GetByteCount(text),
        byte[] bytes => bytes.Length,
        ReadOnlyMemory<byte> memory => memory.Length,
        int or long or double => FormatNumber(arg, stackalloc byte[MaxNumberLength]),
        null => throw new ArgumentException("Redis command arguments cannot be null."),
        _ => throw new ArgumentException(
            $"Redis command arguments must be string, byte[], ReadOnlyMemory<byte>, int, long or double, not {arg.GetType().Name}."),
    };

    private static int WriteBulk(Span<byte> destination, object arg)
    {
        Span<byte> number = stackalloc byte[MaxNumberLength];
        ReadOnlySpan<byte> bytes = arg switch
        {
            byte[] array => array,
            ReadOnlyMemory<byte> memory => memory.Span,
            int or long or double => number[..FormatNumber(arg, number)],
            _ => default,
        };
        if (arg is string text)
        {
            var count = Encoding.UTF8.GetByteCount(text);
            var header = WriteHeader(destination, (byte)'$', count);
            Encoding.UTF8.GetBytes(text, destination[header..]);
            "\r\n"u8.CopyTo(destination[(header + count)..]);
            return header + count + 2;
        }
        var written = WriteHeader(destination, (byte)'$', bytes.Length);
        bytes.CopyTo(destination[written..]);
        "\r\n"u8.CopyTo(destination[(written + bytes.Length)..]);
        return written + bytes.Length + 2;
    }

    private static int FormatNumber(object arg, Span<byte> destination)
    {
        switch (arg)
        {
            case int value:
                value.TryFormat(destination, out var intLength, default, CultureInfo.InvariantCulture);
                return intLength;
            case long value:
                value.TryFormat(destination, out var longLength, default, CultureInfo.InvariantCulture);
                return longLength;
            case double value when double.IsNaN(value):
                throw new ArgumentException("NaN cannot be sent to Redis.");
            // Redis spells infinities inf/-inf (sorted-set scores); .NET's invariant culture says "Infinity".
            case double value when double.IsPositiveInfinity(value):
                "inf"u8.CopyTo(destination);
                return 3;
            case double value when double.IsNegativeInfinity(value):
                "-inf"u8.CopyTo(destination);
                return 4;
            case double value:
                value.TryFormat(destination, out var doubleLength, "R", CultureInfo.InvariantCulture);
                return doubleLength;
            default:
                throw new ArgumentException($"Unsupported Redis number type {arg.GetType().Name}.");
        }
    }

    private static int HeaderLength(int value) => 1 + DigitCount(value) + 2;

    private static int BulkLength(int length) => HeaderLength(length) + length + 2;

    private static int DigitCount(int value)
    {
        var digits = 1;
        while (value >= 10)
        {
            value /= 10;
            digits++;
        }
        return digits;
    }

    private static int WriteHeader(Span<byte> destination, byte marker, int value)
    {
        destination[0] = marker;
        value.TryFormat(destination[1..], out var digits, default, CultureInfo.InvariantCulture);
        "\r\n"u8.CopyTo(destination[(1 + digits)..]);
        return 1 + digits + 2;
    }
}
