using System.Globalization;
using RenderFarm.Testing;

namespace RenderFarm.EndToEnd.Tests;

/// <summary>How a one-off command ended.</summary>
/// <param name="ExitCode">Its exit code.</param>
/// <param name="Output">Everything it printed, one stamped line each.</param>
internal sealed record CommandResult(int ExitCode, string Output);

/// <summary>The farm's token side: the coordinator settling on an EVM chain, workers with keys the test knows.</summary>
internal sealed partial class Farm
{
    /// <summary>Makes the coordinator (from its next start) settle through <paramref name="chain"/>'s escrow with the verifier's key.</summary>
    public void UseChain(TestChain chain)
    {
        _coordinatorEnvironment["Ledger__Evm__RpcUrl"] = chain.RpcUrl.AbsoluteUri;
        _coordinatorEnvironment["Ledger__Evm__ChainId"] = HardhatNode.ChainId.ToString(CultureInfo.InvariantCulture);
        _coordinatorEnvironment["Ledger__Evm__EscrowAddress"] = chain.Contracts.EscrowAddress;
        _coordinatorEnvironment["Ledger__Evm__VerifierKey"] = chain.VerifierKey;
    }

    /// <summary>Asks the coordinator, from its next start, for at least <paramref name="tokens"/> of stake before a provider signs in.</summary>
    public void RequireStake(long tokens) =>
        _coordinatorEnvironment["Coordinator__MinimumStakeTokens"] = tokens.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Runs one <c>renderfarm</c> command (a client or a provider at the command line) to its end and returns it; its
    /// output goes into the test's notes. It is not one of the farm's long-running processes, so its exit is no alarm.
    /// </summary>
    public async Task<CommandResult> RunCommandAsync(string name, IReadOnlyList<string> arguments, TimeSpan timeout)
    {
        using FarmProcess command = FarmProcess.Start(name, "renderfarm.dll", arguments, new Dictionary<string, string?>(), _folder, _clock);
        bool exited = await command.WaitForExitAsync(timeout);
        Note($"==== {name} ({(exited ? $"exit {command.ExitCode}" : "still running: killed")}) ====\n{command.Output}");
        return exited
            ? new CommandResult(command.ExitCode, command.Output)
            : throw new TimeoutException($"{name} did not finish within {timeout.TotalSeconds:0} s.");
    }

    /// <summary>The folder the farm's processes run in; key files live here.</summary>
    public string Folder => _folder;

    /// <summary>Gives the worker <paramref name="name"/> (before it starts) the provider key <paramref name="privateKey"/>, so it can stake.</summary>
    public void SetWorkerKey(string name, string privateKey) => File.WriteAllText(Path.Combine(_folder, $"{name}.key"), privateKey);
}
