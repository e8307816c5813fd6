using RenderFarm.Testing;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>
/// The end-to-end tests share both servers and run one at a time: each starts several processes
/// that render on the CPU, so running them side by side would only make their timings unreliable.
/// </summary>
[CollectionDefinition(Name)]
public sealed class FarmCollection : ICollectionFixture<PostgresFixture>, ICollectionFixture<S3Fixture>
{
    public const string Name = "Farm";
}
