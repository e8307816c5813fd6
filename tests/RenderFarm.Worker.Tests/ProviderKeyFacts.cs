using Nethereum.Signer;
using RenderFarm.Core;

namespace RenderFarm.Worker.Tests;

public sealed class ProviderKeyFacts : IDisposable
{
    private readonly string _folder = Directory.CreateTempSubdirectory("renderfarm-key-").FullName;

    public void Dispose() => Directory.Delete(_folder, recursive: true);

    [Fact]
    public void LoadOrCreate_creates_an_owner_only_key_file_and_reuses_it()
    {
        string path = Path.Combine(_folder, "nested", "provider.key");

        ProviderKey created = ProviderKey.LoadOrCreate(path);
        ProviderKey loaded = ProviderKey.LoadOrCreate(path);

        Assert.True(created.WasCreated);
        Assert.False(loaded.WasCreated);
        Assert.Matches("^0x[0-9a-fA-F]{40}$", created.Address);
        Assert.Equal(created.Address, loaded.Address);
        Assert.Matches("^(0x)?[0-9a-f]{64}\n$", File.ReadAllText(path));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(path));
        }
    }

    [Fact]
    public void Sign_produces_an_EIP191_signature_that_recovers_the_address()
    {
        ProviderKey key = ProviderKey.LoadOrCreate(Path.Combine(_folder, "provider.key"));

        string signature = key.Sign("RenderFarm login 42");

        string recovered = new EthereumMessageSigner().EncodeUTF8AndEcRecover("RenderFarm login 42", signature);
        Assert.Equal(key.Address, recovered, ignoreCase: true);
    }

    [Theory]
    [InlineData("")]
    [InlineData("not a key")]
    [InlineData("0x1234")]
    [InlineData("0000000000000000000000000000000000000000000000000000000000000000")]
    [InlineData("ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff")]
    [InlineData("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz")]
    public void LoadOrCreate_rejects_a_file_without_a_private_key(string content)
    {
        string path = Path.Combine(_folder, "provider.key");
        File.WriteAllText(path, content);

        var error = Assert.Throws<UserInputException>(() => ProviderKey.LoadOrCreate(path));

        Assert.Contains(path, error.Message, StringComparison.Ordinal);
        Assert.Contains("64 hex digits", error.Message, StringComparison.Ordinal);
        Assert.Equal(content, File.ReadAllText(path));
    }

    [Fact]
    public void LoadOrCreate_accepts_a_0x_prefixed_key_with_surrounding_whitespace()
    {
        EthECKey key = EthECKey.GenerateKey();
        string path = Path.Combine(_folder, "provider.key");
        File.WriteAllText(path, $"  0x{key.GetPrivateKey().Replace("0x", string.Empty, StringComparison.Ordinal).ToUpperInvariant()}\r\n");

        Assert.Equal(key.GetPublicAddress(), ProviderKey.LoadOrCreate(path).Address);
    }
}
