namespace RenderFarm.Storage.Tests;

/// <summary>Providers' sample-count evidence.</summary>
public abstract partial class FarmStoreContract
{
    [Fact]
    public async Task Provider_sample_evidence_starts_empty_and_concurrent_updates_all_apply()
    {
        const string Address = "0xAbC0000000000000000000000000000000000047";
        (long checks, IReadOnlyList<double> sums) = await Store.GetProviderSampleEvidenceAsync(Address);
        Assert.Equal(0L, checks);
        Assert.Empty(sums);

        // Each update counts one check and adds 0.5 to the second of two sums: 12 racing updates must give 12 checks and 6.
        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() =>
            Store.UpdateProviderSampleEvidenceAsync(
                Address.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal),
                e => (e.Checks + 1, [0, (e.Sums.Count > 1 ? e.Sums[1] : 0) + 0.5])))));

        (checks, sums) = await Store.GetProviderSampleEvidenceAsync(Address);
        Assert.Equal(12L, checks);
        Assert.Equal([0.0, 6.0], sums);

        // Hostile or broken updates are refused and change nothing.
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderSampleEvidenceAsync(Address, e => e));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderSampleEvidenceAsync(Address, e => (e.Checks + 1, [double.NaN])));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderSampleEvidenceAsync(Address, e => (e.Checks + 1, [-1.0])));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderSampleEvidenceAsync(Address, e => (e.Checks + 1, new double[17])));
        Assert.Equal(12L, (await Store.GetProviderSampleEvidenceAsync(Address)).Checks);
    }
}
