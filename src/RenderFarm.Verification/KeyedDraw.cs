using System.Buffers.Binary;
using System.Security.Cryptography;
using System.Text;

namespace RenderFarm.Verification;

/// <summary>
/// A draw in [0, 1) that only the holder of the coordinator's secret can make or predict:
/// <c>HMAC-SHA256(secret, context ‖ job ‖ frame ‖ subject)</c> read as a 53-bit fraction. Each policy passes its own
/// context, so the draws of different policies over the same frame are unrelated.
/// </summary>
internal static class KeyedDraw
{
    public static double Of(ReadOnlySpan<byte> secret, ReadOnlySpan<byte> context, Guid jobId, int frame, string subject)
    {
        if (secret.Length < SpotCheckPlan.MinSecretLength)
        {
            throw new ArgumentException($"The secret must hold at least {SpotCheckPlan.MinSecretLength} bytes.", nameof(secret));
        }

        byte[] tail = Encoding.UTF8.GetBytes(subject);
        byte[] message = new byte[context.Length + 16 + sizeof(long) + tail.Length];
        context.CopyTo(message);
        jobId.TryWriteBytes(message.AsSpan(context.Length));
        BinaryPrimitives.WriteInt64LittleEndian(message.AsSpan(context.Length + 16), frame);
        tail.CopyTo(message, context.Length + 16 + sizeof(long));
        Span<byte> mac = stackalloc byte[32];
        HMACSHA256.HashData(secret, message, mac);
        return (BinaryPrimitives.ReadUInt64LittleEndian(mac) >> 11) * (1.0 / (1UL << 53));
    }
}
