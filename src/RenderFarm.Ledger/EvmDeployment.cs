using System.Numerics;
using Nethereum.Contracts;
using Nethereum.RPC.Eth.DTOs;
using Nethereum.Web3;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>The addresses of a deployed RenderToken and RenderEscrow.</summary>
/// <param name="TokenAddress">The RenderToken contract.</param>
/// <param name="EscrowAddress">The RenderEscrow contract.</param>
public sealed record EvmContractAddresses(string TokenAddress, string EscrowAddress);

/// <summary>Deploys the committed contracts (contracts/build) and mints tokens.</summary>
public static class EvmDeployment
{
    /// <summary>
    /// Deploys a RenderToken, owned by <paramref name="web3"/>'s account (the only one that may mint), and a
    /// RenderEscrow over it (see <see cref="DeployEscrowAsync"/>).
    /// </summary>
    /// <param name="web3">A client with the deploying account; it owns both contracts.</param>
    /// <param name="verifierAddress">The coordinator's verifier address.</param>
    /// <param name="terms">The escrow's terms, fixed for its life.</param>
    /// <param name="cancellationToken">Stops waiting for the receipts.</param>
    /// <exception cref="ArgumentException">The terms are invalid (see <see cref="EscrowTerms"/>).</exception>
    /// <exception cref="LedgerException">A deployment failed or the endpoint cannot be reached.</exception>
    public static async Task<EvmContractAddresses> DeployAsync(IWeb3 web3, string verifierAddress, EscrowTerms terms, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(web3);
        ArgumentNullException.ThrowIfNull(terms);
        terms.Validate();
        string token = await DeployAsync(web3, EvmArtifacts.Token, [], cancellationToken).ConfigureAwait(false);
        return new EvmContractAddresses(token, await DeployEscrowAsync(web3, token, verifierAddress, terms, cancellationToken).ConfigureAwait(false));
    }

    /// <summary>
    /// Deploys a RenderEscrow over the ERC-20 at <paramref name="tokenAddress"/> (any ERC-20: the escrow
    /// accepts tokens that return nothing from transfers), owned by <paramref name="web3"/>'s account, the
    /// only one that may propose a new verifier.
    /// </summary>
    /// <returns>The escrow's address.</returns>
    /// <exception cref="ArgumentException">The terms are invalid (see <see cref="EscrowTerms"/>).</exception>
    /// <exception cref="LedgerException">The deployment failed or the endpoint cannot be reached.</exception>
    public static Task<string> DeployEscrowAsync(IWeb3 web3, string tokenAddress, string verifierAddress, EscrowTerms terms, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(web3);
        ArgumentNullException.ThrowIfNull(terms);
        string token = LedgerIds.Address(tokenAddress, nameof(tokenAddress));
        string verifier = LedgerIds.Address(verifierAddress, nameof(verifierAddress));
        string treasury = terms.Validate();
        object[] arguments =
        [
            token,
            verifier,
            treasury,
            Seconds(terms.UnstakeDelay),
            Seconds(terms.ReclaimDelay),
            terms.MaxSlashPerJob,
        ];
        return DeployAsync(web3, EvmArtifacts.Escrow, arguments, cancellationToken);
    }

    /// <summary>Mints <paramref name="amount"/> token base units to <paramref name="to"/>; <paramref name="web3"/>'s account must own the token.</summary>
    /// <exception cref="LedgerException">The mint was refused (<c>NotOwner</c>) or the endpoint cannot be reached.</exception>
    public static async Task<string> MintAsync(IWeb3 web3, string tokenAddress, string to, BigInteger amount, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(web3);
        var mint = new MintFunction { To = LedgerIds.Address(to, nameof(to)), Amount = amount };
        string action = $"Minting {amount} to {to}";
        try
        {
            TransactionReceipt receipt = await web3.Eth.GetContractHandler(LedgerIds.Address(tokenAddress, nameof(tokenAddress)))
                .SendRequestAndWaitForReceiptAsync(mint, cancellationToken)
                .ConfigureAwait(false);
            return receipt.Status?.Value == BigInteger.One
                ? receipt.TransactionHash
                : throw new LedgerException($"{action} failed: transaction {receipt.TransactionHash} reverted on chain.");
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, action, rpcUrl: null) is LedgerException translated)
        {
            throw translated;
        }
    }

    private static BigInteger Seconds(TimeSpan delay) => new(delay.Ticks / TimeSpan.TicksPerSecond);

    private static async Task<string> DeployAsync(IWeb3 web3, EvmArtifacts artifacts, object[] arguments, CancellationToken cancellationToken)
    {
        string from = web3.TransactionManager.Account?.Address
            ?? throw new ArgumentException("The Web3 client has no account to deploy from.", nameof(web3));
        string action = $"Deploying {artifacts.Name}";
        try
        {
            var gas = await web3.Eth.DeployContract.EstimateGasAsync(artifacts.Abi, artifacts.Bytecode, from, arguments).ConfigureAwait(false);
            TransactionReceipt receipt = await web3.Eth.DeployContract
                .SendRequestAndWaitForReceiptAsync(artifacts.Abi, artifacts.Bytecode, from, gas, cancellationToken, arguments)
                .ConfigureAwait(false);
            return receipt.Status?.Value == BigInteger.One && receipt.ContractAddress is not null
                ? LedgerIds.Address(receipt.ContractAddress, nameof(receipt))
                : throw new LedgerException($"{action} failed: transaction {receipt.TransactionHash} reverted on chain.");
        }
        catch (Exception exception) when (EvmErrors.Translate(exception, action, rpcUrl: null) is LedgerException translated)
        {
            throw translated;
        }
    }
}
