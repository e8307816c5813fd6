using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;
using RenderFarm.Testing;
using static RenderFarm.Ledger.Tests.LedgerTerms;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// Deploying, connecting to and administering RenderEscrow on a Hardhat node: the terms the contract itself enforces,
/// the checks a ledger makes when it connects, the verifier key's rotation, and tokens that do not follow ERC-20 to the
/// letter.
/// </summary>
[Collection(HardhatCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EvmEscrowAdministrationFacts(HardhatFixture fixture)
{
    private readonly EvmTestChain _chain = new(fixture.Node);

    [Fact]
    public async Task The_escrow_keeps_the_unstake_delay_it_was_deployed_with_in_whole_seconds()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        using EvmLedger verifier = await _chain.ConnectAsync(0, contracts);
        string verifierAddress = new Account(_chain.Node.PrivateKeys[0]).Address;

        Assert.Equal(UnstakeDelay, await verifier.GetUnstakeDelayAsync());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => EvmDeployment.DeployAsync(_chain.Web3For(0), verifierAddress, Terms(_chain.TreasuryAddress) with { UnstakeDelay = TimeSpan.FromSeconds(3600.5) }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => EvmDeployment.DeployAsync(_chain.Web3For(0), verifierAddress, Terms(_chain.TreasuryAddress) with { UnstakeDelay = TimeSpan.Zero }));
    }

    [Fact]
    public async Task A_wrong_chain_id_is_refused_before_anything_is_signed()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => EvmLedger.ConnectAsync(_chain.Options(0, contracts) with { ChainId = 1 }));

        Assert.Contains("chain id 31337", refused.Message, StringComparison.Ordinal);
        Assert.Contains("configured 1", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_unreachable_endpoint_is_reported_with_its_url()
    {
        var url = new Uri($"http://127.0.0.1:{LoopbackPort.Free()}/");

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => EvmLedger.ConnectAsync(new EvmLedgerOptions
        {
            RpcUrl = url,
            ChainId = HardhatNode.ChainId,
            PrivateKey = _chain.Node.PrivateKeys[0],
            EscrowAddress = "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        }));

        Assert.Contains($"{url} cannot be reached", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_without_the_escrow_contract_is_refused()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        string nobody = new Account(_chain.Node.PrivateKeys[5]).Address;

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(
            () => EvmLedger.ConnectAsync(_chain.Options(0, contracts) with { EscrowAddress = nobody }));

        Assert.Contains($"no contract at the escrow address {nobody}", refused.Message, StringComparison.Ordinal);
    }

    // Guards the audit's finding that the verifier key could not be replaced.
    [Fact]
    public async Task A_verifier_change_is_proposed_by_the_owner_and_accepted_by_the_new_key_after_two_days()
    {
        await using LedgerSetup setup = await _chain.CreateSetupAsync();
        var verifier = (EvmLedger)setup.Ledger;
        EvmContractAddresses contracts = new(verifier.TokenAddress, verifier.EscrowAddress);
        using EvmLedger next = await _chain.ConnectAsync(4, contracts);
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 300);

        Assert.Equal("NotOwner", (await Assert.ThrowsAsync<LedgerException>(() => next.ProposeVerifierAsync(next.Address))).Reason);
        await verifier.ProposeVerifierAsync(next.Address);
        DateTimeOffset proposedAt = await setup.Clock.NowAsync();
        Assert.Equal((next.Address, proposedAt + TimeSpan.FromDays(2)), await verifier.GetPendingVerifierAsync());
        Assert.Equal("NotPendingVerifier", (await Assert.ThrowsAsync<LedgerException>(() => ((EvmLedger)setup.Provider1).AcceptVerifierAsync())).Reason);
        Assert.Equal("VerifierChangeNotDue", (await Assert.ThrowsAsync<LedgerException>(() => next.AcceptVerifierAsync())).Reason);

        // Until it accepts, the old key is the verifier and the new one is refused, with a start-up error that says what to do.
        LedgerException notYet = await Assert.ThrowsAsync<LedgerException>(() => next.EnsureVerifierAsync());
        Assert.Contains("proposed verifier", notYet.Message, StringComparison.Ordinal);
        await setup.Clock.AdvanceAsync(TimeSpan.FromDays(2));
        VerifierChangedEvent changed = Assert.Single(await _chain.EventsAsync<VerifierChangedEvent>(await next.AcceptVerifierAsync()));

        Assert.Equal((verifier.Address, next.Address), (LedgerIds.Address(changed.Previous, "previous"), LedgerIds.Address(changed.Verifier, "verifier")));
        Assert.Equal(next.Address, await next.GetVerifierAsync());
        Assert.Null(await next.GetPendingVerifierAsync());
        await next.EnsureVerifierAsync();
        Assert.Equal("NotVerifier", (await Assert.ThrowsAsync<LedgerException>(
            () => verifier.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 10)]))).Reason);
        Assert.True((await next.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 10)])).Changed);

        // The owner can withdraw a proposal before it is accepted.
        await verifier.ProposeVerifierAsync(setup.Provider2.Address);
        await verifier.CancelVerifierProposalAsync();
        Assert.Null(await verifier.GetPendingVerifierAsync());
    }

    [Fact]
    public async Task A_key_that_is_not_the_escrows_verifier_is_refused_naming_both_addresses()
    {
        EvmContractAddresses contracts = await _chain.DeployAsync();
        using EvmLedger other = await _chain.ConnectAsync(5, contracts);
        using EvmLedger verifier = await _chain.ConnectAsync(0, contracts);

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => other.EnsureVerifierAsync());

        Assert.Equal("NotVerifier", refused.Reason);
        Assert.Contains(other.Address, refused.Message, StringComparison.Ordinal);
        Assert.Contains(verifier.Address, refused.Message, StringComparison.Ordinal);
        await verifier.EnsureVerifierAsync();
    }

    // Guards the audit's finding that unstakeDelay could be 0 on chain, whatever the deploying code checks.
    [Fact]
    public async Task The_contract_refuses_an_unstake_or_reclaim_delay_under_an_hour_and_a_zero_slash_cap()
    {
        Web3 web3 = _chain.Web3For(0);
        string token = (await _chain.DeployAsync()).TokenAddress;
        string verifier = new Account(_chain.Node.PrivateKeys[0]).Address;

        LedgerException unstake = await Assert.ThrowsAsync<LedgerException>(() => EvmTestChain.DeployRawEscrowAsync(web3, token, verifier, 0, 3600, 1));
        LedgerException reclaim = await Assert.ThrowsAsync<LedgerException>(() => EvmTestChain.DeployRawEscrowAsync(web3, token, verifier, 3600, 3599, 1));
        LedgerException cap = await Assert.ThrowsAsync<LedgerException>(() => EvmTestChain.DeployRawEscrowAsync(web3, token, verifier, 3600, 3600, 0));

        Assert.Equal("DelayTooShort", unstake.Reason);
        Assert.Contains("minimum=3600", unstake.Message, StringComparison.Ordinal);
        Assert.Equal("DelayTooShort", reclaim.Reason);
        Assert.Equal("ZeroAmount", cap.Reason);
        await EvmTestChain.DeployRawEscrowAsync(web3, token, verifier, 3600, 3600, 1);
    }

    // Guards the audit's finding that the escrow had no SafeERC20: a token returning nothing could not be used at all.
    [Fact]
    public async Task The_escrow_accepts_a_token_that_returns_nothing_and_refuses_one_that_returns_false()
    {
        Web3 deployer = _chain.Web3For(0);
        string token = await EvmTestChain.DeployTestTokenAsync(deployer);
        string escrow = await EvmDeployment.DeployEscrowAsync(deployer, token, deployer.TransactionManager.Account.Address, Terms(_chain.TreasuryAddress));
        var contracts = new EvmContractAddresses(token, escrow);
        using EvmLedger verifier = await _chain.ConnectAsync(0, contracts);
        using EvmLedger client = await _chain.ConnectAsync(1, contracts);
        await EvmTestChain.SendAsync(deployer, token, new MintFunction { To = client.Address, Amount = 500 });
        var job = Guid.NewGuid();

        await client.LockAsync(job, 300);
        await verifier.ReleaseAsync(client.Address, job, "batch-1", [new Payout(new Account(_chain.Node.PrivateKeys[2]).Address, 100)]);
        await verifier.RefundAsync(client.Address, job);

        Assert.Equal(500 - 300 + 200, await client.GetBalanceAsync(client.Address));
        Assert.Equal(100, await client.GetBalanceAsync(new Account(_chain.Node.PrivateKeys[2]).Address));

        await EvmTestChain.SendAsync(deployer, token, new EvmTestChain.SetRefuseQuietlyFunction { Refuse = true });
        var refusedJob = Guid.NewGuid();
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => client.LockAsync(refusedJob, 100));
        Assert.Equal("TokenTransferFailed", refused.Reason);
        Assert.Null(await client.GetEscrowAsync(client.Address, refusedJob));
        Assert.Equal(400, await client.GetBalanceAsync(client.Address));
    }
}
