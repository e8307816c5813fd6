using System.Net;
using System.Numerics;
using System.Text.Json;
using Nethereum.ABI.FunctionEncoding.Attributes;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using Nethereum.Web3.Accounts;
using RenderFarm.Core.Ledger;
using RenderFarm.Testing;

namespace RenderFarm.Ledger.Tests;

/// <summary>
/// The ledger contract against RenderEscrow on a Hardhat node; every test deploys fresh contracts.
/// Hardhat account 0 deploys (the escrow's owner) and is the verifier, 1 is the client, 2 and 3 are providers,
/// 9 is the treasury.
/// </summary>
[Collection(HardhatCollection.Name)]
[Trait("Category", "Integration")]
public sealed class EvmLedgerFacts(HardhatFixture fixture) : LedgerContract
{
    private HardhatNode Node => fixture.Node;

    protected override async Task<LedgerSetup> CreateAsync()
    {
        EvmContractAddresses contracts = await DeployAsync();
        EvmLedger verifier = await ConnectAsync(0, contracts);
        EvmLedger client = await ConnectAsync(1, contracts);
        EvmLedger provider1 = await ConnectAsync(2, contracts);
        EvmLedger provider2 = await ConnectAsync(3, contracts);
        Web3 deployer = Web3For(0);
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, client.Address, ClientFunds);
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, provider1.Address, ProviderFunds);
        await EvmDeployment.MintAsync(deployer, contracts.TokenAddress, provider2.Address, ProviderFunds);
        return new LedgerSetup(verifier, client, provider1, provider2, TreasuryAddress, new ChainClock(Node, deployer), () =>
        {
            verifier.Dispose();
            client.Dispose();
            provider1.Dispose();
            provider2.Dispose();
            return ValueTask.CompletedTask;
        });
    }

    [Fact]
    public async Task Every_movement_emits_its_event_with_the_right_values()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        byte[] jobId = LedgerIds.JobId(job);

        LedgerReceipt locked = await setup.Client.LockAsync(job, 600);
        DateTimeOffset lockedAt = await setup.Clock.NowAsync();
        LedgerReceipt staked = await setup.Provider1.StakeAsync(50);
        LedgerReceipt released = await setup.Ledger.ReleaseAsync(
            setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100), new Payout(setup.Provider2.Address, 50)]);
        LedgerReceipt repeated = await setup.Ledger.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Provider1.Address, 100)]);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);
        SlashReceipt slashed = await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 20);
        LedgerReceipt unstaked = await setup.Provider1.UnstakeAsync(10);
        DateTimeOffset unstakedAt = await setup.Clock.NowAsync();
        LedgerReceipt refunded = await setup.Ledger.RefundAsync(setup.Client.Address, job);

        LockedEvent lockedEvent = Assert.Single(await EventsAsync<LockedEvent>(locked));
        Assert.Equal(jobId, lockedEvent.JobId);
        Assert.Equal(setup.Client.Address, lockedEvent.Client, ignoreCase: true);
        Assert.Equal(600, lockedEvent.Amount);
        Assert.Equal((lockedAt + ReclaimDelay).ToUnixTimeSeconds(), (long)lockedEvent.Deadline);

        StakedEvent stakedEvent = Assert.Single(await EventsAsync<StakedEvent>(staked));
        Assert.Equal(setup.Provider1.Address, stakedEvent.Provider, ignoreCase: true);
        Assert.Equal(50, stakedEvent.Amount);

        List<ReleasedEvent> releasedEvents = await EventsAsync<ReleasedEvent>(released);
        Assert.Equal(2, releasedEvents.Count);
        Assert.All(releasedEvents, release => Assert.Equal(jobId, release.JobId));
        Assert.All(releasedEvents, release => Assert.Equal(LedgerIds.BatchId("batch-1"), release.BatchId));
        Assert.Equal(
            [(setup.Provider1.Address.ToLowerInvariant(), new BigInteger(100)), (setup.Provider2.Address.ToLowerInvariant(), new BigInteger(50))],
            releasedEvents.Select(release => (release.Provider.ToLowerInvariant(), release.Amount)));
        Assert.Empty(await EventsAsync<ReleasedEvent>(repeated));

        SlashedEvent slashedEvent = Assert.Single(await EventsAsync<SlashedEvent>(slashed.TransactionId));
        Assert.Equal(jobId, slashedEvent.JobId);
        Assert.Equal(setup.Client.Address, slashedEvent.Client, ignoreCase: true);
        Assert.Equal(setup.Provider1.Address, slashedEvent.Provider, ignoreCase: true);
        Assert.Equal(20, slashedEvent.Amount);
        Assert.Empty(await EventsAsync<PendingWithdrawalSlashedEvent>(slashed.TransactionId));

        UnstakeRequestedEvent unstakedEvent = Assert.Single(await EventsAsync<UnstakeRequestedEvent>(unstaked));
        Assert.Equal(setup.Provider1.Address, unstakedEvent.Provider, ignoreCase: true);
        Assert.Equal(10, unstakedEvent.Amount);
        Assert.Equal(10, unstakedEvent.Pending);
        Assert.Equal((unstakedAt + UnstakeDelay).ToUnixTimeSeconds(), (long)unstakedEvent.AvailableAt);
        Assert.Empty(await EventsAsync<StakeWithdrawnEvent>(unstaked));

        RefundedEvent refundedEvent = Assert.Single(await EventsAsync<RefundedEvent>(refunded));
        Assert.Equal(jobId, refundedEvent.JobId);
        Assert.Equal(setup.Client.Address, refundedEvent.Client, ignoreCase: true);
        Assert.Equal(600 - 150, refundedEvent.Amount);
    }

    [Fact]
    public async Task Withdrawal_movements_emit_their_events_with_the_right_values()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Provider1.StakeAsync(50);
        await setup.Client.LockAsync(job, 100);
        await setup.Ledger.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]);

        LedgerReceipt first = await setup.Provider1.UnstakeAsync(10);
        LedgerReceipt second = await setup.Provider1.UnstakeAsync(5);
        DateTimeOffset secondAt = await setup.Clock.NowAsync();
        string slashed = (await setup.Ledger.SlashAsync(setup.Client.Address, job, setup.Provider1.Address, 45)).TransactionId;
        await setup.Clock.AdvanceAsync(UnstakeDelay);
        LedgerReceipt withdrawn = await setup.Provider1.WithdrawStakeAsync();

        UnstakeRequestedEvent firstEvent = Assert.Single(await EventsAsync<UnstakeRequestedEvent>(first));
        Assert.Equal(setup.Provider1.Address, firstEvent.Provider, ignoreCase: true);
        Assert.Equal((10, 10), ((int)firstEvent.Amount, (int)firstEvent.Pending));
        UnstakeRequestedEvent secondEvent = Assert.Single(await EventsAsync<UnstakeRequestedEvent>(second));
        Assert.Equal((5, 15), ((int)secondEvent.Amount, (int)secondEvent.Pending));
        Assert.Equal((secondAt + UnstakeDelay).ToUnixTimeSeconds(), (long)secondEvent.AvailableAt);
        Assert.True(firstEvent.AvailableAt < secondEvent.AvailableAt);

        // 35 from the stake and 10 from the pending withdrawal.
        Assert.Equal(45, Assert.Single(await EventsAsync<SlashedEvent>(slashed)).Amount);
        PendingWithdrawalSlashedEvent fromPending = Assert.Single(await EventsAsync<PendingWithdrawalSlashedEvent>(slashed));
        Assert.Equal(LedgerIds.JobId(job), fromPending.JobId);
        Assert.Equal(setup.Provider1.Address, fromPending.Provider, ignoreCase: true);
        Assert.Equal(10, fromPending.Amount);

        StakeWithdrawnEvent withdrawnEvent = Assert.Single(await EventsAsync<StakeWithdrawnEvent>(withdrawn));
        Assert.Equal(setup.Provider1.Address, withdrawnEvent.Provider, ignoreCase: true);
        Assert.Equal(5, withdrawnEvent.Amount);
    }

    [Fact]
    public async Task The_escrow_keeps_the_unstake_delay_it_was_deployed_with_in_whole_seconds()
    {
        EvmContractAddresses contracts = await DeployAsync();
        using EvmLedger verifier = await ConnectAsync(0, contracts);
        string verifierAddress = new Account(Node.PrivateKeys[0]).Address;

        Assert.Equal(UnstakeDelay, await verifier.GetUnstakeDelayAsync());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => EvmDeployment.DeployAsync(Web3For(0), verifierAddress, Terms(TreasuryAddress) with { UnstakeDelay = TimeSpan.FromSeconds(3600.5) }));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(
            () => EvmDeployment.DeployAsync(Web3For(0), verifierAddress, Terms(TreasuryAddress) with { UnstakeDelay = TimeSpan.Zero }));
    }

    [Fact]
    public async Task Locking_without_an_allowance_is_refused_and_locks_nothing()
    {
        EvmContractAddresses contracts = await DeployAsync();
        using EvmLedger client = await ConnectAsync(1, contracts);
        await EvmDeployment.MintAsync(Web3For(0), contracts.TokenAddress, client.Address, 500);
        var job = Guid.NewGuid();

        // LockAsync approves first; send the bare lock as a client that forgot to.
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => client.SendTransactionAsync(
            contracts.EscrowAddress, new LockFunction { JobId = LedgerIds.JobId(job), Amount = 100 }, "Locking", CancellationToken.None));

        Assert.Equal("InsufficientAllowance", refused.Reason);
        Assert.Contains("allowance=0", refused.Message, StringComparison.Ordinal);
        Assert.Null(await client.GetEscrowAsync(client.Address, job));
        Assert.Equal(500, await client.GetBalanceAsync(client.Address));
    }

    [Fact]
    public async Task Only_the_verifier_releases_refunds_and_slashes()
    {
        await using LedgerSetup setup = await CreateAsync();
        var job = Guid.NewGuid();
        await setup.Client.LockAsync(job, 100);
        var client = (ILedger)setup.Client;

        LedgerException release = await Assert.ThrowsAsync<LedgerException>(
            () => client.ReleaseAsync(setup.Client.Address, job, "batch-1", [new Payout(setup.Client.Address, 100)]));
        LedgerException refund = await Assert.ThrowsAsync<LedgerException>(() => client.RefundAsync(setup.Client.Address, job));
        LedgerException assign = await Assert.ThrowsAsync<LedgerException>(() => client.AssignAsync(setup.Client.Address, job, [setup.Provider1.Address]));

        Assert.Equal("NotVerifier", release.Reason);
        Assert.Equal("NotVerifier", refund.Reason);
        Assert.Equal("NotVerifier", assign.Reason);
        Assert.Equal(new EscrowState(setup.Client.Address, 100, 0, 0, 0, Open: true, default), Undated(await setup.Ledger.GetEscrowAsync(setup.Client.Address, job)));
    }

    [Fact]
    public async Task A_wrong_chain_id_is_refused_before_anything_is_signed()
    {
        EvmContractAddresses contracts = await DeployAsync();

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => EvmLedger.ConnectAsync(Options(0, contracts) with { ChainId = 1 }));

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
            PrivateKey = Node.PrivateKeys[0],
            EscrowAddress = "0x5FbDB2315678afecb367f032d93F642f64180aa3",
        }));

        Assert.Contains($"{url} cannot be reached", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task An_address_without_the_escrow_contract_is_refused()
    {
        EvmContractAddresses contracts = await DeployAsync();
        string nobody = new Account(Node.PrivateKeys[5]).Address;

        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(
            () => EvmLedger.ConnectAsync(Options(0, contracts) with { EscrowAddress = nobody }));

        Assert.Contains($"no contract at the escrow address {nobody}", refused.Message, StringComparison.Ordinal);
    }


    // Guards the audit's finding that the verifier key could not be replaced.
    [Fact]
    public async Task A_verifier_change_is_proposed_by_the_owner_and_accepted_by_the_new_key_after_two_days()
    {
        await using LedgerSetup setup = await CreateAsync();
        var verifier = (EvmLedger)setup.Ledger;
        EvmContractAddresses contracts = new(verifier.TokenAddress, verifier.EscrowAddress);
        using EvmLedger next = await ConnectAsync(4, contracts);
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
        VerifierChangedEvent changed = Assert.Single(await EventsAsync<VerifierChangedEvent>(await next.AcceptVerifierAsync()));

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
        EvmContractAddresses contracts = await DeployAsync();
        using EvmLedger other = await ConnectAsync(5, contracts);
        using EvmLedger verifier = await ConnectAsync(0, contracts);

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
        Web3 web3 = Web3For(0);
        string token = (await DeployAsync()).TokenAddress;
        string verifier = new Account(Node.PrivateKeys[0]).Address;

        LedgerException unstake = await Assert.ThrowsAsync<LedgerException>(() => DeployRawEscrowAsync(web3, token, verifier, 0, 3600, 1));
        LedgerException reclaim = await Assert.ThrowsAsync<LedgerException>(() => DeployRawEscrowAsync(web3, token, verifier, 3600, 3599, 1));
        LedgerException cap = await Assert.ThrowsAsync<LedgerException>(() => DeployRawEscrowAsync(web3, token, verifier, 3600, 3600, 0));

        Assert.Equal("DelayTooShort", unstake.Reason);
        Assert.Contains("minimum=3600", unstake.Message, StringComparison.Ordinal);
        Assert.Equal("DelayTooShort", reclaim.Reason);
        Assert.Equal("ZeroAmount", cap.Reason);
        await DeployRawEscrowAsync(web3, token, verifier, 3600, 3600, 1);
    }

    // Guards the audit's finding that the escrow had no SafeERC20: a token returning nothing could not be used at all.
    [Fact]
    public async Task The_escrow_accepts_a_token_that_returns_nothing_and_refuses_one_that_returns_false()
    {
        Web3 deployer = Web3For(0);
        string token = await DeployTestTokenAsync(deployer);
        string escrow = await EvmDeployment.DeployEscrowAsync(deployer, token, deployer.TransactionManager.Account.Address, Terms(TreasuryAddress));
        var contracts = new EvmContractAddresses(token, escrow);
        using EvmLedger verifier = await ConnectAsync(0, contracts);
        using EvmLedger client = await ConnectAsync(1, contracts);
        await SendAsync(deployer, token, new MintFunction { To = client.Address, Amount = 500 });
        var job = Guid.NewGuid();

        await client.LockAsync(job, 300);
        await verifier.ReleaseAsync(client.Address, job, "batch-1", [new Payout(new Account(Node.PrivateKeys[2]).Address, 100)]);
        await verifier.RefundAsync(client.Address, job);

        Assert.Equal(500 - 300 + 200, await client.GetBalanceAsync(client.Address));
        Assert.Equal(100, await client.GetBalanceAsync(new Account(Node.PrivateKeys[2]).Address));

        await SendAsync(deployer, token, new SetRefuseQuietlyFunction { Refuse = true });
        var refusedJob = Guid.NewGuid();
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => client.LockAsync(refusedJob, 100));
        Assert.Equal("TokenTransferFailed", refused.Reason);
        Assert.Null(await client.GetEscrowAsync(client.Address, refusedJob));
        Assert.Equal(400, await client.GetBalanceAsync(client.Address));
    }

    // Guards the audit's finding that a failed send left the in-memory nonce ahead, so every later write waited forever.
    [Fact]
    public async Task A_send_the_node_refuses_resets_the_nonce_so_the_next_write_goes_through()
    {
        await using LedgerSetup setup = await CreateAsync();
        var provider = (EvmLedger)setup.Provider1;
        await provider.StakeAsync(10);

        // A gas limit over the block's: the node refuses the signed transaction after its nonce was taken.
        LedgerException refused = await Assert.ThrowsAsync<LedgerException>(() => provider.SendTransactionAsync(
            provider.EscrowAddress, new StakeFunction { Amount = 5, Gas = 100_000_000 }, "Staking", CancellationToken.None));
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        LedgerReceipt next = await provider.StakeAsync(5, guard.Token);

        Assert.Contains("refused by the EVM node", refused.Message, StringComparison.Ordinal);
        Assert.True(next.Changed);
        Assert.Equal(15, await provider.GetStakeAsync(provider.Address));
    }

    // Guards the audit's finding that a write waited for its receipt forever, blocking every later settlement.
    [Fact]
    public async Task A_write_that_is_not_mined_fails_after_the_receipt_timeout_and_the_next_write_goes_through()
    {
        EvmContractAddresses contracts = await DeployAsync();
        await EvmDeployment.MintAsync(Web3For(0), contracts.TokenAddress, new Account(Node.PrivateKeys[2]).Address, 100);
        using EvmLedger provider = await EvmLedger.ConnectAsync(Options(2, contracts) with { ReceiptTimeout = TimeSpan.FromSeconds(2) });
        await provider.StakeAsync(50);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        await Node.SetAutomineAsync(false);
        LedgerException timedOut;
        try
        {
            timedOut = await Assert.ThrowsAsync<LedgerException>(() => provider.UnstakeAsync(10, guard.Token));
        }
        finally
        {
            await Node.SetAutomineAsync(true);
            await Node.MineAsync();
        }

        Assert.Contains("got no receipt within 2 s", timedOut.Message, StringComparison.Ordinal);
        Assert.Contains("retrying is safe", timedOut.Message, StringComparison.Ordinal);

        // The unmined transaction was mined later; the next write takes the following nonce.
        await provider.UnstakeAsync(5, guard.Token);
        Assert.Equal(15, (await provider.GetPendingWithdrawalAsync(provider.Address))!.Amount);
    }

    [Fact]
    public async Task A_write_waits_for_its_confirmations()
    {
        EvmContractAddresses contracts = await DeployAsync();
        await EvmDeployment.MintAsync(Web3For(0), contracts.TokenAddress, new Account(Node.PrivateKeys[2]).Address, 100);
        using EvmLedger provider = await EvmLedger.ConnectAsync(Options(2, contracts) with { Confirmations = 3, ReceiptTimeout = TimeSpan.FromSeconds(2) });

        // Mined at once, but nothing mines the two blocks after it: the write does not count as done.
        LedgerException unconfirmed = await Assert.ThrowsAsync<LedgerException>(() => provider.SendTransactionAsync(
            contracts.TokenAddress, new ApproveFunction { Spender = contracts.EscrowAddress, Amount = 1 }, "Approving", CancellationToken.None));
        Assert.Contains("but not 3 confirmations", unconfirmed.Message, StringComparison.Ordinal);

        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        Task<TransactionReceipt> confirmed = provider.SendTransactionAsync(
            contracts.TokenAddress, new ApproveFunction { Spender = contracts.EscrowAddress, Amount = 2 }, "Approving", guard.Token);
        while (!confirmed.IsCompleted && !guard.IsCancellationRequested)
        {
            await Node.MineAsync();
            await Task.Delay(100);
        }

        TransactionReceipt receipt = await confirmed;
        BigInteger head = (await Web3For(0).Eth.Blocks.GetBlockNumber.SendRequestAsync()).Value;
        Assert.True(head >= receipt.BlockNumber.Value + 2, $"block {receipt.BlockNumber.Value}, head {head}");
    }

    // Guards the audit's finding that two writers with one key in a process took the same nonce.
    [Fact]
    public async Task Two_ledgers_with_one_key_in_a_process_write_one_at_a_time()
    {
        EvmContractAddresses contracts = await DeployAsync();
        await EvmDeployment.MintAsync(Web3For(0), contracts.TokenAddress, new Account(Node.PrivateKeys[2]).Address, 100);
        using EvmLedger first = await ConnectAsync(2, contracts);
        using EvmLedger second = await ConnectAsync(2, contracts);
        await first.StakeAsync(40);
        using var guard = new CancellationTokenSource(TimeSpan.FromSeconds(120));

        LedgerReceipt[] receipts = await Task.WhenAll(Enumerable.Range(0, 12).Select(i => Task.Run(
            () => (i % 2 == 0 ? first : second).UnstakeAsync(1, guard.Token))));

        Assert.All(receipts, receipt => Assert.True(receipt.Changed));
        Assert.Equal(12, receipts.Select(receipt => receipt.TransactionId).Distinct().Count());
        Assert.Equal(28, await first.GetStakeAsync(first.Address));
        Assert.Equal(12, (await first.GetPendingWithdrawalAsync(first.Address))!.Amount);
    }

    private static async Task SendAsync<TFunction>(Web3 web3, string contract, TFunction function)
        where TFunction : FunctionMessage, new()
    {
        TransactionReceipt receipt = await web3.Eth.GetContractHandler(contract).SendRequestAndWaitForReceiptAsync(function);
        Assert.Equal(BigInteger.One, receipt.Status.Value);
    }

    private static async Task<string> DeployTestTokenAsync(Web3 web3)
    {
        using JsonDocument artifact = JsonDocument.Parse(await File.ReadAllTextAsync(RepositoryPaths.Combine("contracts/build/test/NoReturnToken.json")));
        string abi = artifact.RootElement.GetProperty("abi").GetRawText();
        string bytecode = artifact.RootElement.GetProperty("bytecode").GetString()!;
        string from = web3.TransactionManager.Account.Address;
        TransactionReceipt receipt = await web3.Eth.DeployContract.SendRequestAndWaitForReceiptAsync(
            abi, bytecode, from, await web3.Eth.DeployContract.EstimateGasAsync(abi, bytecode, from), CancellationToken.None);
        return receipt.ContractAddress;
    }

    // The escrow's constructor called directly, past EvmDeployment's own checks.
    private static async Task DeployRawEscrowAsync(Web3 web3, string token, string verifier, long unstakeDelay, long reclaimDelay, long maxSlash)
    {
        object[] arguments = [token, verifier, verifier, new BigInteger(unstakeDelay), new BigInteger(reclaimDelay), new BigInteger(maxSlash)];
        string from = web3.TransactionManager.Account.Address;
        try
        {
            var gas = await web3.Eth.DeployContract.EstimateGasAsync(EvmArtifacts.Escrow.Abi, EvmArtifacts.Escrow.Bytecode, from, arguments);
            TransactionReceipt receipt = await web3.Eth.DeployContract.SendRequestAndWaitForReceiptAsync(
                EvmArtifacts.Escrow.Abi, EvmArtifacts.Escrow.Bytecode, from, gas, CancellationToken.None, arguments);
            Assert.Equal(BigInteger.One, receipt.Status.Value);
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, "Deploying RenderEscrow", rpcUrl: null) is LedgerException translated)
        {
            throw translated;
        }
    }

    [Function("setRefuseQuietly")]
    private sealed class SetRefuseQuietlyFunction : FunctionMessage
    {
        [Parameter("bool", "refuse", 1)]
        public bool Refuse { get; set; }
    }

    private Web3 Web3For(int account) => new(new Account(Node.PrivateKeys[account], HardhatNode.ChainId), Node.RpcUrl.ToString());

    private string TreasuryAddress => new Account(Node.PrivateKeys[9]).Address;

    private Task<EvmContractAddresses> DeployAsync() => EvmDeployment.DeployAsync(Web3For(0), new Account(Node.PrivateKeys[0]).Address, Terms(TreasuryAddress));

    private EvmLedgerOptions Options(int account, EvmContractAddresses contracts) => new()
    {
        RpcUrl = Node.RpcUrl,
        ChainId = HardhatNode.ChainId,
        PrivateKey = Node.PrivateKeys[account],
        EscrowAddress = contracts.EscrowAddress,
    };

    private Task<EvmLedger> ConnectAsync(int account, EvmContractAddresses contracts) => EvmLedger.ConnectAsync(Options(account, contracts));

    private Task<List<TEvent>> EventsAsync<TEvent>(LedgerReceipt receipt)
        where TEvent : IEventDTO, new() => EventsAsync<TEvent>(receipt.TransactionId);

    private async Task<List<TEvent>> EventsAsync<TEvent>(string transactionId)
        where TEvent : IEventDTO, new()
    {
        TransactionReceipt transaction = await Web3For(0).Eth.Transactions.GetTransactionReceipt.SendRequestAsync(transactionId);
        return [.. transaction.DecodeAllEvents<TEvent>().Select(log => log.Event)];
    }

    /// <summary>
    /// The chain's block time. Moving it forward (<c>evm_increaseTime</c>, then <c>evm_mine</c> so the next
    /// block carries it) moves it for every test on the node; each test deploys its own escrow, so none
    /// sees another's withdrawals.
    /// </summary>
    private sealed class ChainClock(HardhatNode node, Web3 web3) : ILedgerClock
    {
        public async Task<DateTimeOffset> NowAsync()
        {
            BlockWithTransactionHashes block = await web3.Eth.Blocks.GetBlockWithTransactionsHashesByNumber.SendRequestAsync(BlockParameter.CreateLatest());
            return DateTimeOffset.FromUnixTimeSeconds((long)block.Timestamp.Value);
        }

        public Task AdvanceAsync(TimeSpan time) => node.AdvanceTimeAsync(time);
    }
}
