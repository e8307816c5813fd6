using System.Globalization;
using System.Security.Cryptography;

namespace RenderFarm.Coordinator.Leasing;

/// <summary>
/// Lease ids carry their job and task (<c>{jobId:N}-{index}-{random}</c>) so a provider call needs
/// no lookup to find its task; the random part makes every lease distinct, and the stored
/// <c>TaskRecord.LeaseId</c> stays the authority.
/// </summary>
internal static class LeaseId
{
    public static string Create(Guid jobId, int index) => string.Create(
        CultureInfo.InvariantCulture, $"{jobId:N}-{index}-{Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(12))}");

    public static bool TryParse(string? leaseId, out Guid jobId, out int index)
    {
        jobId = Guid.Empty;
        index = -1;
        string[] parts = (leaseId ?? "").Split('-');
        return parts.Length == 3
            && Guid.TryParseExact(parts[0], "N", out jobId)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && parts[2].Length == 24;
    }
}
