using System.Globalization;
using System.Text;
using Nethereum.Util;

namespace RenderFarm.Ledger;

/// <summary>How farm ids map to the escrow contract's ids, and address checks and time formats shared by both ledgers.</summary>
internal static class LedgerIds
{
    /// <summary>A job id as the contract's <c>bytes32 jobId</c>: 16 zero bytes, then the Guid's RFC 4122 (big-endian) bytes.</summary>
    public static byte[] JobId(Guid jobId)
    {
        byte[] id = new byte[32];
        jobId.TryWriteBytes(id.AsSpan(16), bigEndian: true, out _);
        return id;
    }

    /// <summary>A batch id as the contract's <c>bytes32 batchId</c>: the Keccak-256 of its UTF-8 bytes.</summary>
    public static byte[] BatchId(string batchId)
    {
        ArgumentException.ThrowIfNullOrEmpty(batchId);
        return Sha3Keccack.Current.CalculateHash(Encoding.UTF8.GetBytes(batchId));
    }

    /// <summary>A ledger time for messages, to the second: ISO 8601 in UTC, e.g. <c>2026-01-08T12:00:00Z</c>.</summary>
    public static string Time(DateTimeOffset time) =>
        time.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", CultureInfo.InvariantCulture);

    /// <summary>The EIP-55 checksum form of a 0x-prefixed 20-byte hex address.</summary>
    /// <exception cref="ArgumentException">It is not such an address.</exception>
    public static string Address(string address, string parameterName)
    {
        ArgumentNullException.ThrowIfNull(address, parameterName);
        if (!AddressUtil.Current.IsValidEthereumAddressHexFormat(address))
        {
            throw new ArgumentException($"'{address}' is not an Ethereum address (0x and 40 hex digits).", parameterName);
        }

        return AddressUtil.Current.ConvertToChecksumAddress(address);
    }
}
