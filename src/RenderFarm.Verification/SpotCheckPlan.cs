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
/// rejection. They pick an offset of the tile grid in [0, tileSize)² (so tile edges fall anywhere), then
/// <see cref="TileCount"/> distinct cells of the shifted grid that lie wholly inside the frame (Floyd's
/// sampling without replacement), so tiles never overlap. The number of tiles is the most whose pixels stay
/// within the cost share. Pixels closer to the frame's edge than one tile are covered only for some offsets.
/// </remarks>
public sealed class SpotCheckPlan
{
    /// <summary>Default tile side in pixels.</summary>
    public const int DefaultTileSize = 8;

    /// <summary>Default largest share of the frame's pixels re-rendered.</summary>
    public const double DefaultMaxCostShare = 0.03;

    /// <summary>Fewest secret bytes accepted.</summary>
    public const int MinSecretLength = 16;

    private static readonly byte[] s_context = "RenderFarm.SpotCheckPlan/1"u8.ToArray();

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

    /// <summary>The tiles, ordered by row then column; they lie inside the frame and do not overlap.</summary>
    public IReadOnlyList<Rectangle> Tiles { get; }

    /// <summary>The number of tiles.</summary>
    public int TileCount => Tiles.Count;

    /// <summary>The share of the frame's pixels the tiles cover.</summary>
    public double CostShare => (double)Tiles.Count * TileSize * TileSize / ((double)FrameWidth * FrameHeight);

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
    /// <exception cref="ArgumentException">Not even one tile fits in the frame within the cost share.</exception>
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
        if (budget < 1)
        {
            throw new ArgumentException(
                $"No {tileSize}x{tileSize} tile fits within {maxCostShare:P1} of a {frameWidth}x{frameHeight} frame; use smaller tiles.",
                nameof(tileSize));
        }

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

        // The offset leaves at least one whole cell in each direction.
        int offsetX = (int)random.Below((ulong)Math.Min(tileSize, frameWidth - tileSize + 1));
        int offsetY = (int)random.Below((ulong)Math.Min(tileSize, frameHeight - tileSize + 1));
        int columns = (frameWidth - offsetX) / tileSize;
        int rows = (frameHeight - offsetY) / tileSize;
        long cells = (long)columns * rows;
        int count = (int)Math.Min(budget, cells);

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
            tiles[i] = new Rectangle(offsetX + (column * tileSize), offsetY + (row * tileSize), tileSize, tileSize);
        }

        return new SpotCheckPlan(frameWidth, frameHeight, tileSize, tiles);
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
