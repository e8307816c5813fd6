namespace RenderFarm.Storage.Tests;

/// <summary>
/// A forward-only stream of unknown length, as an HTTP request body is: it hands out short, uneven
/// reads and, when told, fails part-way through.
/// </summary>
internal sealed class UnseekableStream(byte[] content, int failAfter = -1) : Stream
{
    private int _position;

    public override bool CanRead => true;

    public override bool CanSeek => false;

    public override bool CanWrite => false;

    public override long Length => throw new NotSupportedException();

    public override long Position
    {
        get => throw new NotSupportedException();
        set => throw new NotSupportedException();
    }

    public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

    public override int Read(Span<byte> buffer)
    {
        if (failAfter >= 0 && _position >= failAfter)
        {
            throw new IOException("The client went away.");
        }

        // Uneven short reads: 1 to 100,000 bytes, never more than asked.
        int count = Math.Min(Math.Min(buffer.Length, content.Length - _position), 1 + (int)((long)_position * 7919 % 100_000));
        if (failAfter >= 0)
        {
            count = Math.Min(count, failAfter - _position);
        }

        content.AsSpan(_position, count).CopyTo(buffer);
        _position += count;
        return count;
    }

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        ValueTask.FromResult(Read(buffer.Span));

    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        Task.FromResult(Read(buffer.AsSpan(offset, count)));

    public override void Flush()
    {
    }

    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    public override void SetLength(long value) => throw new NotSupportedException();

    public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
}
