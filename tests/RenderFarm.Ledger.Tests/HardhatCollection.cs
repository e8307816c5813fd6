using RenderFarm.Testing;

namespace RenderFarm.Ledger.Tests;

[CollectionDefinition(Name)]
public sealed class HardhatCollection : ICollectionFixture<HardhatFixture>
{
    public const string Name = "Hardhat";
}
