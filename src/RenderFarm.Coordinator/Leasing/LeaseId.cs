using System.Buffers.Binary;
using System.Security.Cryptography;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Lease ids carry their job, task and — for a check — the check's number, so a provider call needs no lookup to find
/// its work; the stored lease id stays the authority. They are sealed with AES-GCM under a key derived from the
/// coordinator's spot-check secret: a provider cannot read them, so a whole-output check (a canary whose answer the
/// coordinator already holds) is indistinguishable from a render or inference task, and cannot forge one. Every
/// coordinator sharing the secret reads the others' ids.
/// </summary>
internal sealed class LeaseId
{
    private const int NonceBytes = 12;
    private const int TagBytes = 16;
    private const int PayloadBytes = 16 + 4 + 4;

    private readonly byte[] _key;

    /// <summary>Derives the sealing key from <paramref name="secret"/>.</summary>
    public LeaseId(byte[] secret) => _key = HMACSHA256.HashData(secret, "renderfarm lease id"u8);

    /// <summary>A fresh lease on task <paramref name="index"/> of job <paramref name="jobId"/>.</summary>
    public string Create(Guid jobId, int index) => Seal(jobId, index, 0);

    /// <summary>A fresh lease on check <paramref name="check"/> (1 or more) of a task.</summary>
    public string CreateCheck(Guid jobId, int index, int check)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(check, 1);
        return Seal(jobId, index, check);
    }

    /// <summary>Opens a task lease (not a check's).</summary>
    public bool TryParse(string? leaseId, out Guid jobId, out int index) =>
        TryParse(leaseId, out jobId, out index, out int check) && check == 0;

    /// <summary>Opens a task lease (<paramref name="check"/> 0) or a check lease (<paramref name="check"/> its number).</summary>
    public bool TryParse(string? leaseId, out Guid jobId, out int index, out int check)
    {
        jobId = Guid.Empty;
        index = -1;
        check = 0;
        // Lowercase hex: lease ids are part of object keys, which are lowercase.
        string text = leaseId ?? "";
        if (text.Length != 2 * (NonceBytes + PayloadBytes + TagBytes) || !text.All(c => c is (>= '0' and <= '9') or (>= 'a' and <= 'f')))
        {
            return false;
        }

        byte[] sealedBytes = Convert.FromHexString(text);

        byte[] payload = new byte[PayloadBytes];
        try
        {
            using var aes = new AesGcm(_key, TagBytes);
            aes.Decrypt(sealedBytes.AsSpan(0, NonceBytes), sealedBytes.AsSpan(NonceBytes, PayloadBytes), sealedBytes.AsSpan(NonceBytes + PayloadBytes), payload);
        }
        catch (AuthenticationTagMismatchException)
        {
            return false;
        }

        jobId = new Guid(payload.AsSpan(0, 16));
        index = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(16));
        check = BinaryPrimitives.ReadInt32LittleEndian(payload.AsSpan(20));
        return index >= 0 && check >= 0;
    }

    private string Seal(Guid jobId, int index, int check)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(index);
        Span<byte> payload = stackalloc byte[PayloadBytes];
        jobId.TryWriteBytes(payload);
        BinaryPrimitives.WriteInt32LittleEndian(payload[16..], index);
        BinaryPrimitives.WriteInt32LittleEndian(payload[20..], check);
        byte[] sealedBytes = new byte[NonceBytes + PayloadBytes + TagBytes];

        // A random nonce per lease: ids never repeat, and AES-GCM never sees a nonce twice under the key.
        RandomNumberGenerator.Fill(sealedBytes.AsSpan(0, NonceBytes));
        using var aes = new AesGcm(_key, TagBytes);
        aes.Encrypt(sealedBytes.AsSpan(0, NonceBytes), payload, sealedBytes.AsSpan(NonceBytes, PayloadBytes), sealedBytes.AsSpan(NonceBytes + PayloadBytes));
        return Convert.ToHexStringLower(sealedBytes);
    }
}
