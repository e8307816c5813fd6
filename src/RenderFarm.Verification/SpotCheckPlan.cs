using System.Buffers.Binary;
using System.Security.Cryptography;
using SixLabors.ImageSharp;

namespace RenderFarm.Verification;

/// <summary>
/// The tiles of one frame that a validator re-renders and compares. The choice is a pure function of a
/// coordinator secret and (job, frame, frame size, tile size, cost share): a provider without the secret
/// cannot predict it, and an auditor given the secret can recompute it.
/// </summary>
/// <remarks>
/// A key is derived as <c>HMAC-SHA256(secret, context)</c>; the random numbers are the blocks
/// <c>HMAC-SHA256(key, counter)</c>, read as unsigned 64-bit integers and turned into uniform integers by
/// rejection. They pick an offset of the tile grid in [0, tileSize)² (so tile edges fall anywhere), which cuts
/// the frame into cells (whole tiles inside, narrower cells along the edges), then <see cref="TileCount"/>
/// distinct cells (Floyd's sampling without replacement), so tiles never overlap and every pixel, at the edge
/// or in the middle, is checked with the same probability. The number of tiles is the most whole tiles whose
/// pixels stay within the cost share, but at least <see cref="MinTiles"/>: a small frame is checked in as many
/// places as a large one, at a higher share of its pixels.
/// </remarks>
public sealed class SpotCheckPlan
{
    /// <summary>Default tile side in pixels.</summary>
    public const int DefaultTileSize = 8;

    /// <summary>Default largest share of the frame's pixels re-rendered.</summary>
    public const double DefaultMaxCostShare = 0.03;

    /// <summary>Fewest tiles a plan holds whatever the frame's size (fewer only when the frame has fewer cells).</summary>
    public const int MinTiles = 8;

    /// <summary>Fewest secret bytes accepted.</summary>
    public const int MinSecretLength = 16;

    private static readonly byte[] s_context = "RenderFarm.SpotCheckPlan/2"u8.ToArray();

    private SpotCheckPlan(int frameWidth, int frameHeight, int tileSize, IReadOnlyList<Rectangle> tiles)
    {
        FrameWidth = frameWidth;
        FrameHeight = frameHeight;
        TileSize = tileSize;
        Tiles = tiles;
    }

    /// <summary>Frame width in pixels.</summary>
    public int FrameWidth { get; }

    /// <summary>Frame height in pixels.</summary>
    public int FrameHeight { get; }

    /// <summary>Tile side in pixels.</summary>
    public int TileSize { get; }

    /// <summary>
    /// The tiles, ordered by row then column; they lie inside the frame and do not overlap. Tiles are
    /// <see cref="TileSize"/> square, or narrower where a cell meets the frame's edge.
    /// </summary>
    public IReadOnlyList<Rectangle> Tiles { get; }

    /// <summary>The number of tiles.</summary>
    public int TileCount => Tiles.Count;

    /// <summary>The share of the frame's pixels the tiles cover.</summary>
    public double CostShare => Tiles.Sum(t => (double)t.Width * t.Height) / ((double)FrameWidth * FrameHeight);

    /// <summary>A fresh 32-byte secret from the operating system's cryptographic generator.</summary>
    public static byte[] CreateSecret() => RandomNumberGenerator.GetBytes(32);

    /// <summary>Plans the spot checks of one frame.</summary>
    /// <param name="secret">The coordinator's secret, at least <see cref="MinSecretLength"/> bytes; never shown to providers.</param>
    /// <param name="jobId">The job.</param>
    /// <param name="frame">The frame number.</param>
    /// <param name="frameWidth">Frame width in pixels.</param>
    /// <param name="frameHeight">Frame height in pixels.</param>
    /// <param name="tileSize">Tile side in pixels.</param>
    /// <param name="maxCostShare">Largest share of the frame's pixels the tiles may cover, in (0, 1].</param>
    public static SpotCheckPlan Create(
        ReadOnlySpan<byte> secret,
        Guid jobId,
        int frame,
        int frameWidth,
        int frameHeight,
        int tileSize = DefaultTileSize,
        double maxCostShare = DefaultMaxCostShare)
    {
        if (secret.Length < MinSecretLength)
        {
            throw new ArgumentException($"The secret must hold at least {MinSecretLength} bytes.", nameof(secret));
        }

        ArgumentOutOfRangeException.ThrowIfLessThan(tileSize, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameWidth, tileSize);
        ArgumentOutOfRangeException.ThrowIfLessThan(frameHeight, tileSize);
        if (!(maxCostShare > 0 && maxCostShare <= 1))
        {
            throw new ArgumentOutOfRangeException(nameof(maxCostShare), maxCostShare, "The cost share must lie in (0, 1].");
        }

        // The small allowance keeps a share that is exactly a whole number of tiles (0.03 · 1920 · 1080 / 64 = 972)
        // from losing a tile to binary rounding.
        long budget = (long)Math.Floor((maxCostShare * frameWidth * frameHeight / ((double)tileSize * tileSize)) + 1e-9);
        Span<byte> context = stackalloc byte[s_context.Length + 16 + (5 * sizeof(long))];
        s_context.CopyTo(context);
        Span<byte> rest = context[s_context.Length..];
        jobId.TryWriteBytes(rest);
        rest = rest[16..];
        BinaryPrimitives.WriteInt64LittleEndian(rest, frame);
        BinaryPrimitives.WriteInt64LittleEndian(rest[8..], frameWidth);
        BinaryPrimitives.WriteInt64LittleEndian(rest[16..], frameHeight);
        BinaryPrimitives.WriteInt64LittleEndian(rest[24..], tileSize);
        BinaryPrimitives.WriteInt64LittleEndian(rest[32..], BitConverter.DoubleToInt64Bits(maxCostShare));
        var random = new KeyedRandom(HMACSHA256.HashData(secret, context));

        // The grid's offset cuts the frame into cells of at most tileSize: whole cells inside, narrower ones along the
        // edges. Every pixel lies in exactly one cell whatever the offset, so drawing cells uniformly covers a pixel at
        // the frame's edge as often as one in its middle.
        int offsetX = (int)random.Below((ulong)tileSize);
        int offsetY = (int)random.Below((ulong)tileSize);
        int[] columnStarts = CellStarts(frameWidth, tileSize, offsetX);
        int[] rowStarts = CellStarts(frameHeight, tileSize, offsetY);
        int columns = columnStarts.Length - 1;
        long cells = (long)columns * (rowStarts.Length - 1);
        int count = (int)Math.Min(Math.Max(budget, MinTiles), cells);

        // Floyd's algorithm: a uniform subset of `count` cells out of `cells`.
        var chosen = new HashSet<long>(count);
        for (long j = cells - count; j < cells; j++)
        {
            long candidate = (long)random.Below((ulong)j + 1);
            chosen.Add(chosen.Contains(candidate) ? j : candidate);
        }

        var sorted = chosen.ToArray();
        Array.Sort(sorted);
        var tiles = new Rectangle[sorted.Length];
        for (int i = 0; i < sorted.Length; i++)
        {
            int column = (int)(sorted[i] % columns), row = (int)(sorted[i] / columns);
            tiles[i] = Rectangle.FromLTRB(columnStarts[column], rowStarts[row], columnStarts[column + 1], rowStarts[row + 1]);
        }

        return new SpotCheckPlan(frameWidth, frameHeight, tileSize, tiles);
    }

    // The starts of the cells along one axis, then its length: a first cell [0, offset) when the offset is not zero,
    // then cells of tileSize, the last one cut at the edge.
    private static int[] CellStarts(int length, int tileSize, int offset)
    {
        var starts = new List<int>();
        if (offset > 0)
        {
            starts.Add(0);
        }

        for (int start = offset; start < length; start += tileSize)
        {
            starts.Add(start);
        }

        starts.Add(length);
        return [.. starts];
    }

    /// <summary>Uniform integers from HMAC-SHA256 blocks in counter mode.</summary>
    private sealed class KeyedRandom(byte[] key)
    {
        private readonly byte[] _block = new byte[32];
        private readonly byte[] _counter = new byte[8];
        private ulong _blockIndex;
        private int _used = 32;

        public ulong Below(ulong bound)
        {
            // Reject the top of the range that would make low values likelier.
            ulong limit = ulong.MaxValue - (((ulong.MaxValue % bound) + 1) % bound);
            while (true)
            {
                ulong value = Next();
                if (value <= limit)
                {
                    return value % bound;
                }
            }
        }

        private ulong Next()
        {
            if (_used == _block.Length)
            {
                BinaryPrimitives.WriteUInt64LittleEndian(_counter, _blockIndex++);
                HMACSHA256.HashData(key, _counter, _block);
                _used = 0;
            }

            ulong value = BinaryPrimitives.ReadUInt64LittleEndian(_block.AsSpan(_used));
            _used += sizeof(ulong);
            return value;
        }
    }
}
