using System.Globalization;
using System.Numerics;
using System.Text;
using System.Text.RegularExpressions;
using Nethereum.ABI.FunctionEncoding;
using Nethereum.ABI.Model;
using Nethereum.Contracts;
using Nethereum.Hex.HexConvertors.Extensions;
using Nethereum.JsonRpc.Client;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>Turns Nethereum's errors into <see cref="LedgerException"/>s that say what happened.</summary>
internal static partial class EvmErrors
{
    private static readonly BigInteger s_maxUnixSeconds = DateTimeOffset.MaxValue.ToUnixTimeSeconds();

    /// <summary>The <see cref="LedgerException"/> for <paramref name="exception"/>, or <see langword="null"/> to let it through.</summary>
    public static LedgerException? Translate(Exception exception, string action, Uri? rpcUrl) => exception switch
    {
        LedgerException or OperationCanceledException => null,
        SmartContractCustomErrorRevertException custom => Reverted(action, custom.ExceptionEncodedData, exception),
        SmartContractRevertException revert => new LedgerException($"{action} reverted: {revert.RevertMessage}", reason: null, exception),
        RpcResponseException response when RevertData(response.RpcError) is string data => Reverted(action, data, exception),
        RpcResponseException response => new LedgerException(
            $"{action} was refused by the EVM node{At(rpcUrl)}: {response.RpcError.Message} (JSON-RPC error {response.RpcError.Code}).", reason: null, exception),
        RpcClientUnknownException or RpcClientTimeoutException or HttpRequestException => Unreachable(rpcUrl, exception),
        _ => null,
    };

    public static LedgerException Unreachable(Uri? rpcUrl, Exception exception)
    {
        Exception innermost = exception;
        while (innermost.InnerException is not null)
        {
            innermost = innermost.InnerException;
        }

        return new LedgerException($"The EVM JSON-RPC endpoint{At(rpcUrl)} cannot be reached: {innermost.Message}", reason: null, exception);
    }

    private static LedgerException Reverted(string action, string data, Exception exception)
    {
        if (data.Length <= 2)
        {
            return new LedgerException($"{action} reverted without a reason.", reason: null, exception);
        }

        var revert = new SmartContractCustomErrorRevertException(data);
        foreach (ErrorABI error in EvmArtifacts.Escrow.Errors.Concat(EvmArtifacts.Token.Errors))
        {
            if (revert.IsCustomErrorFor(error))
            {
                var text = new StringBuilder(error.Name).Append('(');
                List<ParameterOutput> values = revert.DecodeErrorToDefault(error);
                for (int i = 0; i < values.Count; i++)
                {
                    text.Append(i == 0 ? "" : ", ").Append(values[i].Parameter.Name).Append('=').Append(Format(values[i]));
                }

                return new LedgerException($"{action} reverted: {text.Append(')')}", error.Name, exception);
            }
        }

        return new LedgerException($"{action} reverted with unknown error data {data}.", reason: null, exception);
    }

    private static string At(Uri? rpcUrl) => rpcUrl is null ? "" : $" at {rpcUrl}";

    // A uint256 named like availableAt is a block time (Unix seconds): shown as UTC for people.
    private static string Format(ParameterOutput value) => value.Result switch
    {
        byte[] bytes => bytes.ToHex(prefix: true),
        BigInteger seconds when value.Parameter.Name.EndsWith("At", StringComparison.Ordinal) && seconds <= s_maxUnixSeconds =>
            LedgerIds.Time(DateTimeOffset.FromUnixTimeSeconds((long)seconds)),
        _ => Convert.ToString(value.Result, CultureInfo.InvariantCulture) ?? "",
    };

    // Nodes put the revert data in the error's data, as a hex string or inside an object.
    private static string? RevertData(RpcError error)
    {
        string? data = error.Data is null ? null : error.GetDataAsString();
        if (string.IsNullOrEmpty(data))
        {
            return null;
        }

        Match match = HexData().Match(data);
        return match.Success ? match.Value : null;
    }

    [GeneratedRegex("0x(?:[0-9a-fA-F]{2}){4,}")]
    private static partial Regex HexData();
}
