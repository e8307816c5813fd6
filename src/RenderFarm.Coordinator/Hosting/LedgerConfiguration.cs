using System.Globalization;
using Microsoft.Extensions.Configuration;
using RenderFarm.Core;
using RenderFarm.Core.Ledger;
using RenderFarm.Ledger;

namespace RenderFarm.Coordinator;

/// <summary>
/// Chooses the ledger settlements pay through from configuration:
/// <list type="bullet">
/// <item><c>Ledger:Evm:RpcUrl</c>, <c>Ledger:Evm:ChainId</c>, <c>Ledger:Evm:EscrowAddress</c> and
/// <c>Ledger:Evm:VerifierKey</c> (the hex private key of the escrow's verifier): the escrow contract on an EVM chain;</item>
/// <item><c>Ledger:OfflineFile</c>: an offline ledger file;</item>
/// <item>neither: no ledger, and settlements pay nothing.</item>
/// </list>
/// </summary>
public static class LedgerConfiguration
{
    /// <summary>The configuration section.</summary>
    public const string SectionName = "Ledger";

    /// <summary>Whether <paramref name="configuration"/> names an EVM ledger, which must be connected asynchronously.</summary>
    public static bool NamesEvmLedger(IConfiguration configuration) =>
        configuration.GetSection(SectionName).GetSection("Evm").GetChildren().Any(c => !string.IsNullOrEmpty(c.Value));

    /// <summary>Opens the configured ledger: connects to the chain and checks its id and the escrow contract.</summary>
    /// <exception cref="UserInputException">A setting is missing or malformed.</exception>
    /// <exception cref="LedgerException">The chain cannot be reached, reports another chain id or has no escrow contract at the address.</exception>
    public static async Task<ILedger?> OpenAsync(IConfiguration configuration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        IConfigurationSection section = configuration.GetSection(SectionName);
        if (NamesEvmLedger(configuration))
        {
            IConfigurationSection evm = section.GetSection("Evm");
            string rpc = Required(evm, "RpcUrl");
            if (!Uri.TryCreate(rpc, UriKind.Absolute, out Uri? rpcUrl) || (rpcUrl.Scheme != Uri.UriSchemeHttp && rpcUrl.Scheme != Uri.UriSchemeHttps))
            {
                throw new UserInputException($"Ledger:Evm:RpcUrl must be an http(s) URL; got '{rpc}'.");
            }

            string chain = Required(evm, "ChainId");
            if (!long.TryParse(chain, NumberStyles.None, CultureInfo.InvariantCulture, out long chainId) || chainId <= 0)
            {
                throw new UserInputException($"Ledger:Evm:ChainId must be a positive whole number; got '{chain}'.");
            }

            string key = Required(evm, "VerifierKey");
            string hex = key.StartsWith("0x", StringComparison.OrdinalIgnoreCase) ? key[2..] : key;
            if (hex.Length != 64 || !hex.All(char.IsAsciiHexDigit))
            {
                throw new UserInputException("Ledger:Evm:VerifierKey must be a 32-byte private key in hex (64 digits, optionally 0x-prefixed).");
            }

            string escrow = Required(evm, "EscrowAddress");
            if (escrow.Length != 42 || !escrow.StartsWith("0x", StringComparison.OrdinalIgnoreCase) || !escrow[2..].All(char.IsAsciiHexDigit))
            {
                throw new UserInputException($"Ledger:Evm:EscrowAddress must be an address (0x and 40 hex digits); got '{escrow}'.");
            }

            return await EvmLedger.ConnectAsync(
                new EvmLedgerOptions { RpcUrl = rpcUrl, ChainId = chainId, PrivateKey = key, EscrowAddress = escrow },
                cancellationToken).ConfigureAwait(false);
        }

        return section["OfflineFile"] is { Length: > 0 } path ? new OfflineLedger(Path.GetFullPath(path)) : null;
    }

    private static string Required(IConfigurationSection section, string name) =>
        section[name] is { Length: > 0 } value
            ? value.Trim()
            : throw new UserInputException($"{section.Path}:{name} is required when any {section.Path} setting is given.");
}
