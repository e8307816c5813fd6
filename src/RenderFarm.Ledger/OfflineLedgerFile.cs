using System.Globalization;
using System.Numerics;
using System.Text.Json;
using System.Text.Json.Serialization;
using RenderFarm.Core.Ledger;

namespace RenderFarm.Ledger;

/// <summary>
/// The offline ledger's JSON file and the lock that orders its writes: every write applies to the state in memory and
/// rewrites the whole file atomically; a write whose file cannot be saved reloads the file, so memory never runs ahead of
/// the disk. Transaction ids are synthetic (<c>offline:N</c>, N counting every write).
/// </summary>
internal sealed class OfflineLedgerFile : IDisposable
{
    private static readonly JsonSerializerOptions s_json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new BigIntegerConverter() },
    };

    private readonly string _path;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private OfflineLedgerState _state;

    /// <summary>Opens the file at <paramref name="path"/>, or an empty state if it does not exist.</summary>
    /// <exception cref="LedgerException">The file exists but is not a ledger file.</exception>
    public OfflineLedgerFile(string path)
    {
        _path = Path.GetFullPath(path);
        _state = Load(_path);
    }

    /// <summary>
    /// Applies <paramref name="apply"/> (which says whether it changed anything) and saves the file. Checks come before
    /// changes in every operation, so a refused write leaves the state as it was.
    /// </summary>
    public async Task<LedgerReceipt> WriteAsync(Func<OfflineLedgerState, bool> apply, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            bool changed = apply(_state);
            _state.Sequence++;
            try
            {
                await SaveAsync(_state).ConfigureAwait(false);
            }
            catch
            {
                _state = Load(_path);
                throw;
            }

            return new LedgerReceipt(string.Create(CultureInfo.InvariantCulture, $"offline:{_state.Sequence}"), changed);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Reads the state under the lock, so a read never sees half of a write.</summary>
    public async Task<T> ReadAsync<T>(Func<OfflineLedgerState, T> read, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            return read(_state);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Releases the lock that orders writes.</summary>
    public void Dispose() => _gate.Dispose();

    private async Task SaveAsync(OfflineLedgerState state)
    {
        // Write a sibling file and rename it over the ledger: readers and crashes see the old or the new file, never half of one.
        string temporary = $"{_path}.{Environment.ProcessId}.tmp";
        Directory.CreateDirectory(Path.GetDirectoryName(_path)!);
        FileStream stream = new(temporary, FileMode.Create, FileAccess.Write, FileShare.None, 4096, FileOptions.Asynchronous);
        await using (stream.ConfigureAwait(false))
        {
            await JsonSerializer.SerializeAsync(stream, state, s_json, CancellationToken.None).ConfigureAwait(false);
            await stream.FlushAsync(CancellationToken.None).ConfigureAwait(false);
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, _path, overwrite: true);
    }

    private static OfflineLedgerState Load(string path)
    {
        if (!File.Exists(path))
        {
            return new OfflineLedgerState();
        }

        try
        {
            using FileStream stream = File.OpenRead(path);
            OfflineLedgerState state = JsonSerializer.Deserialize<OfflineLedgerState>(stream, s_json) ?? throw new JsonException("The file holds null.");

            // Files written when escrows were keyed by job alone: key each by its client, as the contract does.
            foreach ((string key, OfflineEscrowEntry escrow) in state.Escrows.Where(e => !e.Key.Contains('/', StringComparison.Ordinal)).ToList())
            {
                state.Escrows.Remove(key);
                state.Escrows[OfflineLedgerState.EscrowKey(escrow.Client, Guid.Parse(key))] = escrow;
            }

            return state;
        }
        catch (JsonException exception)
        {
            throw new LedgerException($"{path} is not an offline ledger file: {exception.Message}", reason: null, exception);
        }
    }

    private sealed class BigIntegerConverter : JsonConverter<BigInteger>
    {
        public override BigInteger Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
            BigInteger.Parse(reader.GetString() ?? throw new JsonException("A token amount is null."), NumberStyles.None, CultureInfo.InvariantCulture);

        public override void Write(Utf8JsonWriter writer, BigInteger value, JsonSerializerOptions options) =>
            writer.WriteStringValue(value.ToString(CultureInfo.InvariantCulture));
    }
}
