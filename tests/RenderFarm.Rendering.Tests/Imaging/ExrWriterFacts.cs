using System.Buffers.Binary;
using System.Text;
using RenderFarm.Rendering.Imaging;

namespace RenderFarm.Rendering.Tests.Imaging;

public class ExrWriterFacts
{
    // A 20×37 frame: 37 lines make three ZIP blocks of 16, 16 and 5 lines, so a short last block is covered.
    private const int Width = 20, Height = 37;

    [Fact]
    public void Header_HoldsMagicVersionAndTheRequiredAttributes_InOrder()
    {
        byte[] file = Write(ExrCompression.Zip, ExrPixelType.Half);

        Assert.Equal(20000630, BinaryPrimitives.ReadInt32LittleEndian(file));
        Assert.Equal(2, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(4)));
        ExrImage image = ExrReader.Read(file);
        Assert.Equal(
            ["channels", "compression", "dataWindow", "displayWindow", "lineOrder", "pixelAspectRatio", "screenWindowCenter", "screenWindowWidth"],
            image.Attributes.Select(a => a.Name));
        Assert.Equal(["chlist", "compression", "box2i", "box2i", "lineOrder", "float", "v2f", "float"], image.Attributes.Select(a => a.Type));
        Assert.Equal((Width, Height, ExrCompression.Zip), (image.Width, image.Height, image.Compression));
        // The dataWindow box: (0, 0)-(W-1, H-1).
        int window = IndexOf(file, "dataWindow\0box2i\0") + "dataWindow\0box2i\0".Length + 4;
        Assert.Equal([0, 0, Width - 1, Height - 1], Enumerable.Range(0, 4).Select(i => BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan(window + (4 * i)))));
    }

    [Fact]
    public void ChannelList_IsSortedByBytes_AsOpenExrRequires()
    {
        ExrImage image = ExrReader.Read(Write(ExrCompression.None, ExrPixelType.Float));

        // Upper case sorts before lower case: the AOVs' layer names come after R, G, B and Z.
        Assert.Equal(["B", "G", "N.X", "N.Y", "N.Z", "R", "Z", "albedo.B", "albedo.G", "albedo.R"], image.Channels.Select(c => c.Name));
        Assert.Equal(ExrPixelType.Float, image.Channel("Z").Type);
    }

    [Theory]
    [InlineData(ExrCompression.None, Height)]
    [InlineData(ExrCompression.Zip, 3)]
    public void LineOffsetTable_PointsAtEachBlock_InIncreasingOrder(ExrCompression compression, int blocks)
    {
        byte[] file = Write(compression, ExrPixelType.Half);
        ExrImage image = ExrReader.Read(file);

        Assert.Equal(blocks, image.LineOffsets.Count);
        int linesPerBlock = compression == ExrCompression.Zip ? 16 : 1;
        long end = file.Length;
        for (int i = 0; i < blocks; i++)
        {
            long offset = image.LineOffsets[i];
            Assert.Equal(i * linesPerBlock, BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan((int)offset)));
            int size = BinaryPrimitives.ReadInt32LittleEndian(file.AsSpan((int)offset + 4));
            long next = i + 1 < blocks ? image.LineOffsets[i + 1] : end;
            Assert.Equal(next, offset + 8 + size);
        }
    }

    [Theory]
    [InlineData(ExrCompression.None, ExrPixelType.Float)]
    [InlineData(ExrCompression.Zip, ExrPixelType.Float)]
    [InlineData(ExrCompression.None, ExrPixelType.Half)]
    [InlineData(ExrCompression.Zip, ExrPixelType.Half)]
    public void RoundTrip_GivesTheValuesBack(ExrCompression compression, ExrPixelType type)
    {
        (HdrImage frame, FrameAovs aovs) = Frame();
        ExrImage image = ExrReader.Read(Write(compression, type));

        float[] r = image.Channel("R").Values, nz = image.Channel("N.Z").Values, z = image.Channel("Z").Values, albedoG = image.Channel("albedo.G").Values;
        for (int i = 0; i < Width * Height; i++)
        {
            Assert.Equal(Expected(frame.Pixels[i * 3]), r[i]);
            Assert.Equal(Expected(aovs.Normal[(i * 3) + 2]), nz[i]);
            Assert.Equal(Expected(aovs.Albedo[(i * 3) + 1]), albedoG[i]);
            Assert.Equal(aovs.Depth[i], z[i]); // depth is always FLOAT
        }

        float Expected(float value) => type == ExrPixelType.Half ? (float)(Half)value : value;
    }

    [Fact]
    public void Zip_ShrinksASmoothFrame()
    {
        Assert.True(Write(ExrCompression.Zip, ExrPixelType.Half).Length < Write(ExrCompression.None, ExrPixelType.Half).Length / 2);
    }

    [Fact]
    public void Writer_RefusesWrongChannels()
    {
        var stream = new MemoryStream();
        float[] values = new float[4];
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [new ExrChannel("R", ExrPixelType.Half, new float[3])], ExrCompression.Zip));
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [new ExrChannel("R", ExrPixelType.Half, values), new ExrChannel("R", ExrPixelType.Half, values)], ExrCompression.Zip));
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [new ExrChannel("a b", ExrPixelType.Half, values)], ExrCompression.Zip));
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [new ExrChannel(new string('x', 32), ExrPixelType.Half, values)], ExrCompression.Zip));
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [new ExrChannel("R", (ExrPixelType)0, values)], ExrCompression.Zip));
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [], ExrCompression.Zip));
        Assert.Throws<ArgumentException>(() => ExrWriter.Write(stream, 2, 2, [new ExrChannel("R", ExrPixelType.Half, values)], (ExrCompression)4));
        Assert.Throws<ArgumentOutOfRangeException>(() => ExrWriter.Write(stream, 0, 2, [new ExrChannel("R", ExrPixelType.Half, values)], ExrCompression.Zip));
        Assert.Equal(0, stream.Length);
    }

    internal static (HdrImage Frame, FrameAovs Aovs) Frame()
    {
        var frame = new HdrImage(Width, Height);
        var aovs = new FrameAovs(Width, Height);
        for (int y = 0; y < Height; y++)
        {
            for (int x = 0; x < Width; x++)
            {
                int p = (y * Width) + x;
                frame.Pixels[p * 3] = x / (float)Width * 4f; // HDR: up to 4
                frame.Pixels[(p * 3) + 1] = y / (float)Height;
                frame.Pixels[(p * 3) + 2] = 0.25f;
                aovs.Albedo[p * 3] = 0.8f;
                aovs.Albedo[(p * 3) + 1] = 0.1f + (0.01f * x);
                aovs.Albedo[(p * 3) + 2] = 0.3f;
                aovs.Normal[(p * 3) + 2] = x < Width / 2 ? 1f : -1f;
                aovs.Depth[p] = 1000.123f + y;
                aovs.Coverage[p] = 1f;
            }
        }

        return (frame, aovs);
    }

    internal static byte[] Write(ExrCompression compression, ExrPixelType type)
    {
        (HdrImage frame, FrameAovs aovs) = Frame();
        var stream = new MemoryStream();
        ExrWriter.Write(stream, Width, Height, ExrFrame.Channels(frame, aovs, type), compression);
        return stream.ToArray();
    }

    private static int IndexOf(byte[] file, string text) => file.AsSpan().IndexOf(Encoding.ASCII.GetBytes(text));
}
