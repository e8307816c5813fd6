namespace RenderFarm.Web.Tests;

/// <summary>
/// The browser facts' collection: its classes share one <see cref="WebFarm"/> (a coordinator, two workers and chromium),
/// started once for all of them. Each fact that lists or counts what it submitted signs in as an account of its own, so
/// it depends on no other fact on the farm.
/// </summary>
/// <remarks>
/// Run alone, after the other collections: while another coordinator (ObservabilityFacts') ran in the same process, the
/// farm's /metrics answered with target_info alone.
/// </remarks>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class WebFarmCollection : ICollectionFixture<WebFarm>
{
    /// <summary>The collection's name, for <see cref="CollectionAttribute"/>.</summary>
    public const string Name = "Browser farm";
}
