using RenderFarm.Core;
using RenderFarm.Core.Farm;

namespace RenderFarm.Storage.Tests;

/// <summary>Providers, their counts and evidence, API keys, one-time values and secrets.</summary>
public abstract partial class FarmStoreContract
{
    [Fact]
    public async Task Api_keys_read_back_and_are_revoked_once()
    {
        var key = new ApiKeyRecord { Id = "k1", Account = "0x5B38Da6a701c568545dCfcB03FcB875f56beddC4", Sha256 = new string('a', 64), CreatedAt = s_start };
        await Store.CreateApiKeyAsync(key);

        Assert.Equal(key, await Store.GetApiKeyAsync("k1"));
        Assert.Null(await Store.GetApiKeyAsync("k2"));
        await Assert.ThrowsAsync<InvalidOperationException>(() => Store.CreateApiKeyAsync(key with { Account = "0xAb8483F64d9C6d1EcF9b849Ae677dD3315835cb2" }));
        Assert.Equal(key.Account, (await Store.GetApiKeyAsync("k1"))!.Account);

        DateTimeOffset revoked = s_start.AddMinutes(5);
        Assert.True(await Store.TryRevokeApiKeyAsync("k1", revoked));
        Assert.False(await Store.TryRevokeApiKeyAsync("k1", revoked.AddMinutes(1)));
        Assert.False(await Store.TryRevokeApiKeyAsync("k2", revoked));
        Assert.Equal(key with { RevokedAt = revoked }, await Store.GetApiKeyAsync("k1"));
    }

    [Fact]
    public async Task Providers_are_upserted_and_found_by_address_in_any_case()
    {
        var provider = new ProviderRecord
        {
            Address = "0xAbCdEf0000000000000000000000000000000042",
            RegisteredAt = s_start,
            LastSeenAt = s_start,
            Device = "llvmpipe (LLVM 15.0.6, 256 bits)",
        };

        await Store.UpsertProviderAsync(provider);
        Assert.Equal(provider, await Store.GetProviderAsync(provider.Address.ToLowerInvariant()));
        Assert.Equal(provider, await Store.GetProviderAsync("0xABCDEF0000000000000000000000000000000042"));

        ProviderRecord seenAgain = provider with { LastSeenAt = s_start.AddMinutes(9), Device = null };
        await Store.UpsertProviderAsync(seenAgain);
        Assert.Equal(seenAgain, await Store.GetProviderAsync(provider.Address));

        Assert.Null(await Store.GetProviderAsync("0x0000000000000000000000000000000000000000"));
    }

    [Fact]
    public async Task Provider_counts_add_up_and_a_login_upsert_keeps_them()
    {
        var provider = new ProviderRecord
        {
            Address = "0xAbCdEf0000000000000000000000000000000043",
            RegisteredAt = s_start,
            LastSeenAt = s_start,
            Device = "llvmpipe",
        };
        await Store.UpsertProviderAsync(provider);

        ProviderRecord afterFrames = await Store.AddProviderCountsAsync(provider.Address.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal), 3, 0);
        Assert.Equal(provider with { VerifiedFrames = 3 }, afterFrames);
        ProviderRecord afterCatch = await Store.AddProviderCountsAsync(provider.Address, 2, 1);
        Assert.Equal(provider with { VerifiedFrames = 5, TimesCaught = 1 }, afterCatch);

        // A login writes the record it read earlier (counters 0): the stored counters stay.
        ProviderRecord seenAgain = provider with { LastSeenAt = s_start.AddMinutes(3) };
        await Store.UpsertProviderAsync(seenAgain);
        Assert.Equal(seenAgain with { VerifiedFrames = 5, TimesCaught = 1 }, await Store.GetProviderAsync(provider.Address));
    }

    [Fact]
    public async Task Adding_counts_to_an_unknown_provider_registers_it_now()
    {
        ProviderRecord added = await Store.AddProviderCountsAsync("0xAbC0000000000000000000000000000000000044", 0, 1);

        ProviderRecord expected = new()
        {
            Address = "0xAbC0000000000000000000000000000000000044",
            RegisteredAt = Clock.GetUtcNow(),
            LastSeenAt = Clock.GetUtcNow(),
            TimesCaught = 1,
        };
        Assert.Equal(expected, added);
        Assert.Equal(expected, await Store.GetProviderAsync(expected.Address));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.AddProviderCountsAsync(expected.Address, -1, 0));
    }

    [Fact]
    public async Task Provider_evidence_starts_empty_and_concurrent_updates_all_apply()
    {
        const string Address = "0xAbC0000000000000000000000000000000000046";
        Assert.Equal((0L, 0.0, 0.0), await Store.GetProviderEvidenceAsync(Address));

        // Each update counts one frame and adds 0.5 upward: 12 racing updates must give 12 frames and 6.
        await Task.WhenAll(Enumerable.Range(0, 12).Select(_ => Task.Run(() =>
            Store.UpdateProviderEvidenceAsync(Address.ToUpperInvariant().Replace("0X", "0x", StringComparison.Ordinal), e => (e.Frames + 1, e.Upper + 0.5, e.Lower)))));

        Assert.Equal((12L, 6.0, 0.0), await Store.GetProviderEvidenceAsync(Address));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderEvidenceAsync(Address, e => e));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.UpdateProviderEvidenceAsync(Address, e => (e.Frames + 1, double.NaN, 0)));
    }

    [Fact]
    public async Task Concurrent_count_additions_all_count()
    {
        const int Adders = 16;
        const string Address = "0xAbC0000000000000000000000000000000000045";
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task[] adders = [.. Enumerable.Range(0, Adders).Select(i => Task.Run(async () =>
        {
            await start.Task;
            await Store.AddProviderCountsAsync(Address, 2, i % 2);
        }))];

        start.SetResult();
        await Task.WhenAll(adders);

        ProviderRecord stored = (await Store.GetProviderAsync(Address))!;
        Assert.Equal((2L * Adders, Adders / 2), (stored.VerifiedFrames, stored.TimesCaught));
    }

    [Fact]
    public async Task A_once_value_is_consumed_once()
    {
        DateTimeOffset expires = Clock.GetUtcNow().AddMinutes(5);

        Assert.True(await Store.TryConsumeOnceAsync("challenge-1", expires));
        Assert.False(await Store.TryConsumeOnceAsync("challenge-1", expires));
        Assert.True(await Store.TryConsumeOnceAsync("challenge-2", expires));
        Clock.Advance(TimeSpan.FromMinutes(4));
        Assert.False(await Store.TryConsumeOnceAsync("challenge-1", expires.AddHours(1)));
    }

    [Fact]
    public async Task Concurrent_consumers_of_one_value_have_exactly_one_winner()
    {
        const int Consumers = 12;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<bool>[] consumers = [.. Enumerable.Range(0, Consumers).Select(_ => Task.Run(async () =>
        {
            await start.Task;
            return await Store.TryConsumeOnceAsync("challenge", Clock.GetUtcNow().AddMinutes(5));
        }))];

        start.SetResult();
        bool[] won = await Task.WhenAll(consumers);

        Assert.Single(won, w => w);
    }

    // Guards coordinator restarts: a generated secret is stored once and every later caller gets that first value, so
    // lease ids and signed URLs made before a restart still open after it.
    [Fact]
    public async Task A_secret_is_stored_once_and_later_candidates_are_ignored()
    {
        Assert.Equal("first-value", await Store.GetOrAddSecretAsync("Coordinator:SpotCheckSecret", "first-value"));
        Assert.Equal("first-value", await Store.GetOrAddSecretAsync("Coordinator:SpotCheckSecret", "second-value"));
        Assert.Equal("other-value", await Store.GetOrAddSecretAsync("Coordinator:TokenSigningKey", "other-value"));
    }

    [Fact]
    public async Task Concurrent_first_secrets_agree_on_one_value()
    {
        const int Callers = 12;
        var start = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task<string>[] callers = [.. Enumerable.Range(0, Callers).Select(i => Task.Run(async () =>
        {
            await start.Task;
            return await Store.GetOrAddSecretAsync("secret", $"candidate-{i}");
        }))];

        start.SetResult();
        string[] values = await Task.WhenAll(callers);

        Assert.Single(values.Distinct());
        Assert.StartsWith("candidate-", values[0], StringComparison.Ordinal);
    }
}
