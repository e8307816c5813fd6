using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

public sealed class InMemoryFarmStoreFacts : FarmStoreContract
{
    protected override Task<IFarmStore> CreateStoreAsync(TimeProvider clock) => Task.FromResult<IFarmStore>(new InMemoryFarmStore(clock));
}
