namespace AspireAi.Core.Documents.Parsing;

/// <summary>
/// The bytes one file may expand to (all parts of a package, or all compressed streams of a PDF), and how to word the
/// refusal.
/// </summary>
internal sealed class ExpansionBudget(long limit, string reason)
{
    private long _used;

    public static ExpansionBudget For(long compressedBytes, DocumentParseLimits limits)
    {
        // The ratio is measured against the upload, but a small file may always expand to the floor: its fixed
        // parts (styles, theme, settings) alone compress by more than any sane ratio.
        var byRatio = Math.Max(limits.ExpansionRatioFloorBytes, compressedBytes * limits.MaxExpansionRatio);
        return byRatio < limits.MaxExpandedBytes
            ? new ExpansionBudget(byRatio,
                $"it expands to more than {limits.MaxExpansionRatio:N0} times its size (Documents:Limits:MaxExpansionRatio); reading stopped at {byRatio:N0} bytes")
            : new ExpansionBudget(limits.MaxExpandedBytes,
                $"it expands to more than {limits.MaxExpandedBytes:N0} bytes (Documents:Limits:MaxExpandedBytes); reading stopped there");
    }

    public void Spend(int bytes)
    {
        _used += bytes;
        if (_used > limit)
        {
            throw new DocumentParseException($"The document is refused as a possible decompression bomb: {reason}.");
        }
    }
}

/// <summary>Counts what is read through it against the file's budget; throws as soon as the budget is crossed.</summary>
internal sealed class CountingStream(Stream inner, ExpansionBudget budget, CancellationToken cancellationToken) : Stream
{
    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        cancellationToken.ThrowIfCancellationRequested();
        var read = inner.Read(buffer);
        budget.Spend(read);
        return read;
    }

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
