using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using RenderFarm.Core;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

/// <summary>An EXR is untrusted input: every damaged or oversized file is refused in one line, never read past its end or its budget.</summary>
public class ExrReaderFacts
{
    [Fact]
    public void EveryTruncation_IsRefusedInOneLine()
    {
        byte[] file = ExrWriterFacts.Write(ExrCompression.Zip, ExrPixelType.Half);
        for (int length = 0; length < file.Length; length++)
        {
            var exception = Assert.Throws<UserInputException>(() => ExrReader.Read(file.AsSpan(0, length)));
            Assert.DoesNotContain('\n', exception.Message);
        }
    }

    [Fact]
    public void SeededMutations_AreReadOrRefused_NeverAnotherFailure()
    {
        byte[] original = ExrWriterFacts.Write(ExrCompression.Zip, ExrPixelType.Half);
        var random = new Random(1507);
        int refused = 0;
        for (int round = 0; round < 3000; round++)
        {
            byte[] file = (byte[])original.Clone();
            for (int flips = random.Next(1, 4); flips > 0; flips--)
            {
                file[random.Next(file.Length)] = (byte)random.Next(256);
            }

            try
            {
                ExrReader.Read(file, maxValues: 1 << 16);
            }
            catch (UserInputException)
            {
                refused++;
            }
        }

        Assert.InRange(refused, 1, 3000);
    }

    [Fact]
    public void BadMagic_AndTiledOrMultipartFiles_AreRefused()
    {
        byte[] file = ExrWriterFacts.Write(ExrCompression.None, ExrPixelType.Half);
        byte[] magic = (byte[])file.Clone();
        magic[0] ^= 1;
        Assert.Contains("magic", Assert.Throws<UserInputException>(() => ExrReader.Read(magic)).Message, StringComparison.Ordinal);
        foreach (int flag in (int[])[0x200, 0x800, 0x1000])
        {
            byte[] flagged = (byte[])file.Clone();
            BinaryPrimitives.WriteInt32LittleEndian(flagged.AsSpan(4), 2 | flag);
            Assert.Throws<UserInputException>(() => ExrReader.Read(flagged));
        }
    }

    [Fact]
    public void HugeDataWindow_IsRefusedBeforeAnyAllocation()
    {
        byte[] file = ExrWriterFacts.Write(ExrCompression.Zip, ExrPixelType.Half);
        int window = file.AsSpan().IndexOf(Encoding.ASCII.GetBytes("dataWindow\0box2i\0")) + 17 + 4;
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(window + 8), 16383);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(window + 12), 16383);
        Assert.Contains("budget", Assert.Throws<UserInputException>(() => ExrReader.Read(file)).Message, StringComparison.Ordinal);

        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(window + 8), int.MaxValue);
        BinaryPrimitives.WriteInt32LittleEndian(file.AsSpan(window), int.MinValue);
        Assert.Throws<UserInputException>(() => ExrReader.Read(file));
    }

    [Fact]
    public void LineOffsetPastTheEnd_IsRefused()
    {
        byte[] file = ExrWriterFacts.Write(ExrCompression.Zip, ExrPixelType.Half);
        long firstOffset = ExrReader.Read(file).LineOffsets[0];
        int table = (int)firstOffset - (3 * 8);
        BinaryPrimitives.WriteUInt64LittleEndian(file.AsSpan(table + 8), ulong.MaxValue);
        Assert.Contains("past the end", Assert.Throws<UserInputException>(() => ExrReader.Read(file)).Message, StringComparison.Ordinal);
    }

    // A block that inflates far beyond its lines (a zip bomb) is refused after reading one byte more than the lines hold.
    [Fact]
    public void BlockThatInflatesBeyondItsLines_IsRefused()
    {
        var stream = new MemoryStream();
        ExrWriter.Write(stream, 64, 16, [new ExrChannel("R", ExrPixelType.Half, new float[64 * 16])], ExrCompression.Zip);
        byte[] file = stream.ToArray();
        long offset = ExrReader.Read(file).LineOffsets[0];
        var bomb = new MemoryStream();
        using (var zlib = new ZLibStream(bomb, CompressionLevel.Optimal, leaveOpen: true))
        {
            zlib.Write(new byte[1 << 20]);
        }

        Assert.True(bomb.Length < 64 * 16 * 2, "the bomb must be smaller than the block's raw size to be taken as compressed");
        byte[] patched = [.. file.AsSpan(0, (int)offset + 4), .. BitConverter.GetBytes((int)bomb.Length), .. bomb.ToArray()];
        Assert.Contains("more than", Assert.Throws<UserInputException>(() => ExrReader.Read(patched)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void UnsortedChannelList_IsRefused()
    {
        byte[] file = ExrWriterFacts.Write(ExrCompression.None, ExrPixelType.Half);
        // Swap the first two names of equal length, "B" and "G".
        int list = file.AsSpan().IndexOf(Encoding.ASCII.GetBytes("chlist\0")) + 7 + 4;
        Assert.Equal((byte)'B', file[list]);
        file[list] = (byte)'H';
        Assert.Contains("out of order", Assert.Throws<UserInputException>(() => ExrReader.Read(file)).Message, StringComparison.Ordinal);
    }
}
