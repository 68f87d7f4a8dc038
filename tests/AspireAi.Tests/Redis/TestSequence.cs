using System.Buffers;

namespace AspireAi.Tests.Redis;

/// <summary>Builds multi-segment sequences, the shape a socket read split at arbitrary points produces.</summary>
internal static class TestSequence
{
    public static ReadOnlySequence<byte> Create(params byte[][] segments)
    {
        var parts = segments.Length == 0 ? [Array.Empty<byte>()] : segments;
        var first = new Segment(parts[0], 0);
        var last = first;
        foreach (var part in parts.Skip(1))
        {
            last = last.Append(part);
        }
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(byte[] memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(byte[] memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
