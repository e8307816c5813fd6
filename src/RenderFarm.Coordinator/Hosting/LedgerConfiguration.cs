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
/// <c>Ledger:Evm:VerifierKey</c> (the hex private key of the escrow's verifier, checked against the contract at
/// start-up), and optionally <c>Ledger:Evm:Confirmations</c> (blocks a write waits for, default 1) and
/// <c>Ledger:Evm:ReceiptTimeoutSeconds</c> (how long a write waits for them, default 120): the escrow contract on an EVM
/// chain; with <c>ConnectionStrings:Postgres</c> the coordinators sharing that database send one transaction at a time
/// (a PostgreSQL advisory lock per key);</item>
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

    /// <summary>
    /// Opens the configured ledger: connects to the chain and checks its id, the escrow contract and that the
    /// verifier key is the escrow's verifier.
    /// </summary>
    /// <exception cref="UserInputException">A setting is missing or malformed.</exception>
    /// <exception cref="LedgerException">
    /// The chain cannot be reached, reports another chain id, has no escrow contract at the address, or the
    /// escrow's verifier is another key (<c>NotVerifier</c>).
    /// </exception>
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

            // Coordinators sharing a PostgreSQL database (and so the verifier key) send one transaction at a time.
            string verifier = new Nethereum.Signer.EthECKey(key).GetPublicAddress();
            Func<CancellationToken, Task<IAsyncDisposable>>? writerLock = configuration.GetConnectionString("Postgres") is { Length: > 0 } postgres
                ? PostgresLedgerWriterLock.For(postgres, chainId, verifier)
                : null;
            int confirmations = Optional(evm, "Confirmations", 1, 64, 1);
            int receiptTimeout = Optional(evm, "ReceiptTimeoutSeconds", 1, 3600, 120);
            EvmLedger ledger = await EvmLedger.ConnectAsync(
                new EvmLedgerOptions
                {
                    RpcUrl = rpcUrl,
                    ChainId = chainId,
                    PrivateKey = key,
                    EscrowAddress = escrow,
                    Confirmations = confirmations,
                    ReceiptTimeout = TimeSpan.FromSeconds(receiptTimeout),
                    WriterLock = writerLock,
                },
                cancellationToken).ConfigureAwait(false);
            try
            {
                await ledger.EnsureVerifierAsync(cancellationToken).ConfigureAwait(false);
            }
            catch
            {
                ledger.Dispose();
                throw;
            }

            return ledger;
        }

        return section["OfflineFile"] is { Length: > 0 } path ? new OfflineLedger(Path.GetFullPath(path)) : null;
    }

    private static int Optional(IConfigurationSection section, string name, int least, int most, int fallback)
    {
        string? text = section[name];
        if (string.IsNullOrWhiteSpace(text))
        {
            return fallback;
        }

        return int.TryParse(text.Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int value) && value >= least && value <= most
            ? value
            : throw new UserInputException($"{section.Path}:{name} must be a whole number from {least} to {most}; got '{text}'.");
    }

    private static string Required(IConfigurationSection section, string name) =>
        section[name] is { Length: > 0 } value
            ? value.Trim()
            : throw new UserInputException($"{section.Path}:{name} is required when any {section.Path} setting is given.");
}
