using Nethereum.Signer;
using RenderFarm.Core;

namespace RenderFarm.Worker;

/// <summary>
/// The provider's Ethereum identity: a secp256k1 private key kept in a file as one line of hex.
/// The key never leaves this object; the coordinator only sees the address and signatures.
/// </summary>
public sealed class ProviderKey
{
    // secp256k1's group order n: a private key is an integer in [1, n).
    private const string CurveOrderHex = "fffffffffffffffffffffffffffffffebaaedce6af48a03bbfd25e8cd0364141";

    private readonly EthECKey _key;

    private ProviderKey(EthECKey key, string path, bool created)
    {
        _key = key;
        Address = key.GetPublicAddress();
        Path = path;
        WasCreated = created;
    }

    /// <summary>The provider's address (0x + 40 hex digits, EIP-55 checksummed).</summary>
    public string Address { get; }

    /// <summary>The key file.</summary>
    public string Path { get; }

    /// <summary>True when <see cref="LoadOrCreate"/> generated the key because the file did not exist.</summary>
    public bool WasCreated { get; }

    /// <summary>
    /// Loads the key in <paramref name="path"/>, or generates one and writes it there (readable by the
    /// owner only on Unix) when the file does not exist.
    /// </summary>
    /// <exception cref="UserInputException">The file cannot be read or written, or does not hold a private key.</exception>
    public static ProviderKey LoadOrCreate(string path)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        string fullPath = System.IO.Path.GetFullPath(path);
        if (!File.Exists(fullPath))
        {
            EthECKey generated = EthECKey.GenerateKey();
            if (TryWrite(fullPath, generated.GetPrivateKey()))
            {
                return new ProviderKey(generated, fullPath, created: true);
            }

            // Another process created the file first; use its key so both agree.
        }

        return new ProviderKey(Parse(fullPath, Read(fullPath)), fullPath, created: false);
    }

    /// <summary>Signs <paramref name="message"/> as EIP-191 <c>personal_sign</c> does (UTF-8, "\x19Ethereum Signed Message:\n" prefix).</summary>
    /// <returns>The 65-byte signature as 0x-prefixed hex.</returns>
    public string Sign(string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        return new EthereumMessageSigner().EncodeUTF8AndSign(message, _key);
    }

    private static bool TryWrite(string path, string privateKeyHex)
    {
        try
        {
            Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            using var writer = new StreamWriter(path, options);
            writer.Write(privateKeyHex);
            writer.Write('\n');
            return true;
        }
        catch (IOException) when (File.Exists(path))
        {
            return false;
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Key file '{path}' could not be created: {ex.Message}", ex);
        }
    }

    private static string Read(string path)
    {
        try
        {
            return File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new UserInputException($"Key file '{path}' could not be read: {ex.Message}", ex);
        }
    }

    private static EthECKey Parse(string path, string text)
    {
        string hex = text.Trim();
        if (hex.StartsWith("0x", StringComparison.OrdinalIgnoreCase))
        {
            hex = hex[2..];
        }

        // Checked here rather than left to EthECKey, which takes short or out-of-range input and fails later or never.
        hex = hex.ToLowerInvariant();
        bool isKey = hex.Length == 64
            && hex.All(char.IsAsciiHexDigit)
            && hex.Any(c => c != '0')
            && string.CompareOrdinal(hex, CurveOrderHex) < 0;
        if (!isKey)
        {
            throw new UserInputException(
                $"Key file '{path}' does not hold an Ethereum private key: expected one line of 64 hex digits (optionally 0x-prefixed).");
        }

        return new EthECKey(hex);
    }
}
