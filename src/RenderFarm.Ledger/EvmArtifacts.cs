using System.Reflection;
using System.Text.Json;
using Nethereum.ABI.ABIDeserialisation;
using Nethereum.ABI.Model;

namespace RenderFarm.Ledger;

/// <summary>The committed contract artifacts (contracts/build/*.json, embedded): ABI and creation bytecode.</summary>
internal sealed class EvmArtifacts
{
    private EvmArtifacts(string name, string abi, string bytecode)
    {
        Name = name;
        Abi = abi;
        Bytecode = bytecode;
        Errors = new ABIJsonDeserialiser().DeserialiseContract(abi).Errors ?? [];
    }

    public static EvmArtifacts Token { get; } = Load("RenderToken");

    public static EvmArtifacts Escrow { get; } = Load("RenderEscrow");

    public string Name { get; }

    public string Abi { get; }

    public string Bytecode { get; }

    public IReadOnlyList<ErrorABI> Errors { get; }

    private static EvmArtifacts Load(string name)
    {
        using Stream stream = typeof(EvmArtifacts).Assembly.GetManifestResourceStream($"RenderFarm.Ledger.Contracts.{name}.json")
            ?? throw new InvalidOperationException($"The contract artifact {name}.json is not embedded in {typeof(EvmArtifacts).Assembly.GetName().Name}.");
        using JsonDocument document = JsonDocument.Parse(stream);
        JsonElement root = document.RootElement;
        return new EvmArtifacts(name, root.GetProperty("abi").GetRawText(), root.GetProperty("bytecode").GetString()!);
    }
}
