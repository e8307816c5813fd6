using RenderFarm.Testing;

namespace RenderFarm.Ledger.Tests;

/// <summary>One Hardhat node for the whole test run; each test deploys its own contracts on it.</summary>
public sealed class HardhatFixture : IAsyncLifetime
{
    private HardhatNode? _node;

    public HardhatNode Node => _node ?? throw new InvalidOperationException("The Hardhat node has not started.");

    // Throwing here fails every test of the collection: a missing service is an error, not a skip.
    public async Task InitializeAsync() => _node = await HardhatNode.StartAsync();

    public async Task DisposeAsync()
    {
        if (_node is not null)
        {
            await _node.DisposeAsync();
        }
    }
}

[CollectionDefinition(Name)]
public sealed class HardhatCollection : ICollectionFixture<HardhatFixture>
{
    public const string Name = "Hardhat";
}
