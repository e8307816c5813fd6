namespace RenderFarm.Core;

/// <summary>
/// An Ethereum private key kept in a file as one line of hex (optionally 0x-prefixed): a provider's identity, or the
/// account a client pays from.
/// </summary>
public static class KeyFile
{
    // secp256k1's group order n: a private key is an integer in [1, n).
    private const string CurveOrderHex = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    /// <summary>Reads the key in <paramref name="path"/> as 64 lowercase hex digits.</summary>
    /// <exception cref="UserInputException">The file cannot be read or does not hold a private key.</exception>
    public static string Read(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Key file '{path}' could not be read: {ex.Message}", ex);
        }

        return Parse(path, text);
    }

    /// <summary>Checks that <paramref name="text"/> (the content of <paramref name="path"/>) is a private key and returns it as 64 lowercase hex digits.</summary>
    /// <exception cref="UserInputException">It is not.</exception>
    public static string Parse(string path, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        string hex = text.Trim();
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[2..];
        }

        // Checked here rather than left to the signing library, which takes short or out-of-range input and fails later or never.
        hex = hex.ToLowerInvariant();
        bool isKey = hex.Length == 64
            && hex.All(char.IsAsciiHexDigit)
            && hex.Any(c => c != '0')
            && string.CompareOrdinal(hex, CurveOrderHex) < 0;
        return isKey
            ? hex
            : throw new UserInputException(
                $"Key file '{path}' does not hold an Ethereum private key: expected one line of 64 hex digits (optionally 0x-prefixed).");
    }
}
