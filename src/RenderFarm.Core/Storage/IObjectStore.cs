namespace RenderFarm.Core.Storage;

/// <summary>What a store knows of one object.</summary>
/// <param name="Key">The object's key.</param>
/// <param name="Size">Size in bytes.</param>
public sealed record ObjectInfo(string Key, long Size);

/// <summary>
/// Blob storage for scenes, models, inputs and outputs. Keys are relative paths of lowercase
/// letters, digits, '-', '_', '.' and '/' (e.g. <c>scenes/3f2a…9c.glb</c>); implementations reject
/// others with <see cref="ArgumentException"/>. Providers never get credentials: they get presigned
/// URLs that allow one method on one object for a limited time.
/// </summary>
public interface IObjectStore
{
    /// <summary>Stores <paramref name="content"/> under <paramref name="key"/>, streaming it, replacing any object there.</summary>
    Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default);

    /// <summary>Opens an object for reading.</summary>
    /// <exception cref="ObjectNotFoundException">No object has that key.</exception>
    Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>The object's size, or null when it does not exist.</summary>
    Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>Deletes an object; deleting a missing object is not an error.</summary>
    Task DeleteAsync(string key, CancellationToken cancellationToken = default);

    /// <summary>A URL that lets anyone holding it GET this one object until it expires.</summary>
    Uri PresignGet(string key, TimeSpan lifetime);

    /// <summary>A URL that lets anyone holding it PUT this one object until it expires.</summary>
    Uri PresignPut(string key, TimeSpan lifetime);
}

/// <summary>Thrown when an object that must exist does not.</summary>
public sealed class ObjectNotFoundException(string key)
    : Exception($"No object '{key}' in the store.")
{
    /// <summary>The missing key.</summary>
    public string Key { get; } = key;
}
