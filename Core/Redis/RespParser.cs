using System.Buffers;
using System.Buffers.Text;
using System.Diagnostics.CodeAnalysis;
using System.Text;

namespace AspireAi.Core.Redis;

/// <summary>
/// Incremental RESP2 reader. A frame is taken only once it is complete: a first pass checks completeness without
/// allocating, so a large reply arriving in many small reads costs no garbage until its last byte is in.
/// </summary>
internal static class RespParser
{
    // Deep enough for any Lua table a script returns; shallow enough that a corrupt stream cannot overflow the stack.
    private const int MaxDepth = 256;
    private const int MaxBulkLength = 512 * 1024 * 1024;
    private const int MaxNumberLength = 24;

    /// <summary>Reads one complete frame from the start of <paramref name="buffer"/> and slices it off.</summary>
    /// <returns>False, leaving <paramref name="buffer"/> untouched, when the frame is not complete yet.</returns>
    /// <exception cref="InvalidDataException">The bytes are not valid RESP2.</exception>
    public static bool TryRead(ref ReadOnlySequence<byte> buffer, [NotNullWhen(true)] out RedisResult? result)
    {
        var scan = new SequenceReader<byte>(buffer);
        if (!TryParse(ref scan, materialize: false, depth: 0, out _))
        {
            result = null;
            return false;
        }
        var frame = buffer.Slice(0, scan.Position);
        var read = new SequenceReader<byte>(frame);
        TryParse(ref read, materialize: true, depth: 0, out result);
        buffer = buffer.Slice(frame.End);
        return result is not null;
    }

    private static bool TryParse(ref SequenceReader<byte> reader, bool materialize, int depth, out RedisResult? result)
    {
        result = null;
        if (!reader.TryRead(out var prefix))
        {
            return false;
        }
        switch (prefix)
        {
            case (byte)'+':
            case (byte)'-':
                if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
                {
                    return false;
                }
                if (materialize)
                {
                    result = prefix == '-' ? RedisResult.Error(Decode(line))
                        : line.Length == 2 && line.FirstSpan.SequenceEqual("OK"u8) ? RedisResult.Ok
                        : RedisResult.SimpleString(Decode(line));
                }
                return true;

            case (byte)':':
                if (!TryReadNumber(ref reader, out var integer))
                {
                    return false;
                }
                if (materialize)
                {
                    result = RedisResult.Integer(integer);
                }
                return true;

            case (byte)'$':
                return TryParseBulk(ref reader, materialize, out result);

            case (byte)'*':
                return TryParseArray(ref reader, materialize, depth, out result);

            default:
                throw new InvalidDataException($"Unexpected RESP type marker 0x{prefix:X2}.");
        }
    }

    private static bool TryParseBulk(ref SequenceReader<byte> reader, bool materialize, out RedisResult? result)
    {
        result = null;
        if (!TryReadNumber(ref reader, out var length))
        {
            return false;
        }
        if (length == -1)
        {
            result = RedisResult.Null;
            return true;
        }
        if (length is < 0 or > MaxBulkLength)
        {
            throw new InvalidDataException($"Invalid RESP bulk string length {length}.");
        }
        if (reader.Remaining < length + 2)
        {
            return false;
        }
        if (materialize)
        {
            var bytes = new byte[length];
            reader.UnreadSequence.Slice(0, length).CopyTo(bytes);
            result = RedisResult.BulkString(bytes);
        }
        reader.Advance(length);
        // The length prefix, not a delimiter, ends the payload: that is what makes values containing \r\n safe.
        if (!reader.IsNext("\r\n"u8, advancePast: true))
        {
            throw new InvalidDataException("RESP bulk string is not terminated by CRLF.");
        }
        return true;
    }

    private static bool TryParseArray(ref SequenceReader<byte> reader, bool materialize, int depth, out RedisResult? result)
    {
        result = null;
        if (!TryReadNumber(ref reader, out var count))
        {
            return false;
        }
        if (count == -1)
        {
            result = RedisResult.Null;
            return true;
        }
        if (count is < 0 or > int.MaxValue)
        {
            throw new InvalidDataException($"Invalid RESP array length {count}.");
        }
        if (depth >= MaxDepth)
        {
            throw new InvalidDataException($"RESP arrays nested deeper than {MaxDepth} levels.");
        }
        var items = materialize ? (count == 0 ? [] : new RedisResult[count]) : null;
        for (var i = 0; i < count; i++)
        {
            if (!TryParse(ref reader, materialize, depth + 1, out var item))
            {
                return false;
            }
            if (items is not null)
            {
                items[i] = item!;
            }
        }
        if (items is not null)
        {
            result = RedisResult.Array(items);
        }
        return true;
    }

    private static bool TryReadNumber(ref SequenceReader<byte> reader, out long value)
    {
        value = 0;
        if (!reader.TryReadTo(out ReadOnlySequence<byte> line, "\r\n"u8))
        {
            return reader.Remaining <= MaxNumberLength
                ? false
                : throw new InvalidDataException("RESP length or integer line is too long.");
        }
        if (line.Length is 0 or > MaxNumberLength)
        {
            throw new InvalidDataException("Invalid RESP length or integer line.");
        }
        Span<byte> digits = stackalloc byte[MaxNumberLength];
        line.CopyTo(digits);
        digits = digits[..(int)line.Length];
        return Utf8Parser.TryParse(digits, out value, out var consumed) && consumed == digits.Length
            ? true
            : throw new InvalidDataException("Invalid RESP integer.");
    }

    private static string Decode(ReadOnlySequence<byte> line) => Encoding.UTF8.GetString(line);
}
