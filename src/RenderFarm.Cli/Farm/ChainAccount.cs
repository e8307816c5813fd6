using RenderFarm.Client;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;

namespace RenderFarm.Cli.Farm;

/// <summary>
/// An account of this machine (a client that pays, a provider that stakes) on the chain of a coordinator's escrow:
/// the escrow is the one the coordinator names (<c>GET /api/ledger</c>), the key comes from a key file and
/// transactions go through a JSON-RPC endpoint of the user's choosing.
/// </summary>
internal static class ChainAccount
{
    /// <summary>Connects to the coordinator's escrow as the account in <paramref name="keyFile"/>.</summary>
    /// <param name="http">A client of the coordinator.</param>
    /// <param name="purpose">What the account is for, e.g. "--budget", to name in errors.</param>
    /// <param name="keyFile">The account's key file.</param>
    /// <param name="rpc">A JSON-RPC endpoint of the chain.</param>
    /// <param name="cancellationToken">Stops connecting.</param>
    /// <exception cref="UserInputException">The options do not fit the coordinator's ledger, or the chain refuses them.</exception>
    public static async Task<EvmLedger> ConnectAsync(CoordinatorClient http, string purpose, string? keyFile, string? rpc, CancellationToken cancellationToken)
    {
        LedgerInfo ledger = await http.GetLedgerAsync(cancellationToken).ConfigureAwait(false);
        switch (ledger.Kind)
        {
            case "none":
                throw new UserInputException($"The coordinator at {http.Coordinator} has no ledger, so nothing is paid or staked there; leave out {purpose}.");
            case not "evm":
                throw new UserInputException($"The coordinator at {http.Coordinator} keeps a '{ledger.Kind}' ledger that only it can write; {purpose} needs a coordinator on an EVM chain.");
        }

        if (keyFile is null || rpc is null)
        {
            throw new UserInputException($"{purpose} needs a key file (--ledger-key or --key) and --rpc, a JSON-RPC endpoint of chain {ledger.ChainId}.");
        }

        if (!Uri.TryCreate(rpc, UriKind.Absolute, out Uri? rpcUrl) || (rpcUrl.Scheme != Uri.UriSchemeHttp && rpcUrl.Scheme != Uri.UriSchemeHttps))
        {
            throw new UserInputException($"--rpc must be an http(s) URL; got '{rpc}'.");
        }

        try
        {
            return await EvmLedger.ConnectAsync(
                new EvmLedgerOptions { RpcUrl = rpcUrl, ChainId = ledger.ChainId!.Value, PrivateKey = KeyFile.Read(keyFile), EscrowAddress = ledger.EscrowAddress! },
                cancellationToken).ConfigureAwait(false);
        }
        catch (LedgerException exception)
        {
            throw new UserInputException(exception.Message, exception);
        }
    }
}
