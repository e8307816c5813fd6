namespace RenderFarm.Core.Storage;

/// <summary>Reads built on <see cref="IObjectStore"/>.</summary>
public static class ObjectStoreExtensions
{
    /// <summary>
    /// The whole object under <paramref name="key"/>, or null when there is none. Callers read only objects whose size
    /// the coordinator already bounds (uploads, inputs, delivered outputs).
    /// </summary>
    public static async Task<byte[]?> ReadAllBytesAsync(this IObjectStore store, string key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(store);
        try
        {
            await using Stream stream = await store.OpenReadAsync(key, cancellationToken);
            using var buffer = new MemoryStream();
            await stream.CopyToAsync(buffer, cancellationToken);
            return buffer.ToArray();
        }
        catch (ObjectNotFoundException)
        {
            return null;
        }
    }
}
