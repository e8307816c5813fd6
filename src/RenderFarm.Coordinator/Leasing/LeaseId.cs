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

    /// <summary>A lease on spot check <paramref name="check"/> of a task: <c>{jobId:N}-{index}-{random}-c{check}</c>.</summary>
    public static string CreateCheck(Guid jobId, int index, int check) => string.Create(
        CultureInfo.InvariantCulture, $"{Create(jobId, index)}-c{check}");

    public static bool TryParse(string? leaseId, out Guid jobId, out int index) =>
        TryParse(leaseId, out jobId, out index, out int check) && check == 0;

    /// <summary>Parses a render lease (<paramref name="check"/> 0) or a spot-check lease (<paramref name="check"/> its number).</summary>
    public static bool TryParse(string? leaseId, out Guid jobId, out int index, out int check)
    {
        jobId = Guid.Empty;
        index = -1;
        check = 0;
        string[] parts = (leaseId ?? "").Split('-');
        if (parts.Length == 4)
        {
            if (!parts[3].StartsWith('c') || !int.TryParse(parts[3].AsSpan(1), NumberStyles.None, CultureInfo.InvariantCulture, out check) || check < 1)
            {
                return false;
            }
        }
        else if (parts.Length != 3)
        {
            return false;
        }

        return Guid.TryParseExact(parts[0], "N", out jobId)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out index)
            && parts[2].Length == 24;
    }
}
