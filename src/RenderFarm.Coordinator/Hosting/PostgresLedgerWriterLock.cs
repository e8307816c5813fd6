using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Npgsql;

namespace RenderFarm.Coordinator;

/// <summary>
/// One ledger writer per key across coordinators that share a PostgreSQL database: a session advisory lock, keyed by
/// the chain and the signing address, held around each transaction until its receipt is in.
/// </summary>
internal static class PostgresLedgerWriterLock
{
    /// <summary>The advisory lock key of <paramref name="address"/> on chain <paramref name="chainId"/>.</summary>
    public static long Key(long chainId, string address)
    {
        byte[] hash = Nethereum.Util.Sha3Keccack.Current.CalculateHash(
            Encoding.UTF8.GetBytes(string.Create(CultureInfo.InvariantCulture, $"renderfarm-ledger-writer:{chainId}:{address.ToLowerInvariant()}")));
        return BinaryPrimitives.ReadInt64BigEndian(hash);
    }

    /// <summary>Takes the lock of <paramref name="address"/> on chain <paramref name="chainId"/>, waiting while another session holds it.</summary>
    public static Func<CancellationToken, Task<IAsyncDisposable>> For(string connectionString, long chainId, string address)
    {
        long key = Key(chainId, address);
        return async cancellationToken =>
        {
            var connection = new NpgsqlConnection(connectionString);
            try
            {
                await connection.OpenAsync(cancellationToken).ConfigureAwait(false);
                await using var take = new NpgsqlCommand("SELECT pg_advisory_lock(@key)", connection);
                take.Parameters.AddWithValue("key", key);
                await take.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                return new Held(connection, key);
            }
            catch
            {
                await connection.DisposeAsync().ConfigureAwait(false);
                throw;
            }
        };
    }

    // Unlocks and closes the session (closing alone would release the lock too, e.g. when the process dies).
    private sealed class Held(NpgsqlConnection connection, long key) : IAsyncDisposable
    {
        public async ValueTask DisposeAsync()
        {
            try
            {
                await using var release = new NpgsqlCommand("SELECT pg_advisory_unlock(@key)", connection);
                release.Parameters.AddWithValue("key", key);
                await release.ExecuteNonQueryAsync(CancellationToken.None).ConfigureAwait(false);
            }
            finally
            {
                await connection.DisposeAsync().ConfigureAwait(false);
            }
        }
    }
}
