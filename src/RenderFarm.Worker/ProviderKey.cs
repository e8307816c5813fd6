using Nethereum.Signer;
using RenderFarm.Core;

namespace RenderFarm.Worker;

/// <summary>
/// The provider's Ethereum identity: a secp256k1 private key kept in a file as one line of hex.
/// The key never leaves this object; the coordinator only sees the address and signatures.
/// </summary>
public sealed class ProviderKey
{
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

        return new ProviderKey(new EthECKey(KeyFile.Read(fullPath)), fullPath, created: false);
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
}
