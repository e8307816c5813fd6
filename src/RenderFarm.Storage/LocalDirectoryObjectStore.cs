using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using RenderFarm.Core.Storage;

namespace RenderFarm.Storage;

/// <summary>
/// The embedded object store: one file per object under a root directory. Presigned URLs point at
/// the process that serves <c>GET</c>/<c>PUT /objects/{key}</c> (the embedded coordinator), which
/// checks them with <see cref="IsAuthorized"/>.
/// </summary>
/// <remarks>
/// Without a given signing key the store keeps one in <c>{root}/presign.key</c> (owner-only), so its URLs stay valid
/// across restarts as long as its objects do. Objects live under <c>{root}/objects/</c>; uploads are written to <c>{root}/incoming/</c> and renamed
/// into place, so readers see the old object or the new one, never a partial one. Because keys map to
/// paths, one key cannot be both an object and a folder of others (<c>a</c> and <c>a/b</c>).
/// </remarks>
public sealed class LocalDirectoryObjectStore : IObjectStore
{
    private const int MinSigningKeyLength = 32;
    private const int CopyBufferSize = 81920;
    private const string SigningKeyFileName = "presign.key";

    private readonly string _objectsRoot;
    private readonly string _incomingRoot;
    private readonly byte[] _signingKey;
    private readonly TimeProvider _timeProvider;
    private Uri? _publicBaseUrl;

    /// <summary>Creates a store over <paramref name="rootDirectory"/>, creating the folder when missing.</summary>
    /// <param name="rootDirectory">Folder holding the objects.</param>
    /// <param name="signingKey">
    /// HMAC-SHA256 key for presigned URLs, at least 32 bytes. When null the key kept in the folder is used, made
    /// (random, readable by the owner only) on first use, so URLs outlive the process.
    /// </param>
    /// <param name="timeProvider">Clock for presigned URL expiry; the system clock when null.</param>
    public LocalDirectoryObjectStore(string rootDirectory, byte[]? signingKey = null, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(rootDirectory);
        if (signingKey is not null && signingKey.Length < MinSigningKeyLength)
        {
            throw new ArgumentException($"The signing key must hold at least {MinSigningKeyLength} bytes.", nameof(signingKey));
        }

        RootDirectory = Path.GetFullPath(rootDirectory);
        _objectsRoot = Path.Combine(RootDirectory, "objects");
        _incomingRoot = Path.Combine(RootDirectory, "incoming");
        Directory.CreateDirectory(_objectsRoot);
        Directory.CreateDirectory(_incomingRoot);
        _signingKey = signingKey is null ? LoadOrCreateSigningKey(Path.Combine(RootDirectory, SigningKeyFileName)) : (byte[])signingKey.Clone();
        _timeProvider = timeProvider ?? TimeProvider.System;
    }

    /// <summary>The folder holding the store.</summary>
    public string RootDirectory { get; }

    /// <summary>
    /// Absolute http(s) URL of the server that maps <c>objects/{key}</c> to this store, e.g.
    /// <c>http://127.0.0.1:5000/</c>. Set once, after construction and before the first presigned URL:
    /// the embedded coordinator learns its port only after binding.
    /// </summary>
    /// <exception cref="InvalidOperationException">Read before it was set, or set twice.</exception>
    public Uri PublicBaseUrl
    {
        get => _publicBaseUrl ?? throw new InvalidOperationException(
            $"{nameof(LocalDirectoryObjectStore)}.{nameof(PublicBaseUrl)} is not set; set it before presigning URLs.");
        set
        {
            ArgumentNullException.ThrowIfNull(value);
            if (!value.IsAbsoluteUri || (value.Scheme != Uri.UriSchemeHttp && value.Scheme != Uri.UriSchemeHttps)
                || !string.IsNullOrEmpty(value.Query) || !string.IsNullOrEmpty(value.Fragment))
            {
                throw new ArgumentException($"'{value}' is not an absolute http(s) URL without query or fragment.", nameof(value));
            }

            // Relative references resolve against the last '/', so the base must end with one.
            Uri normalized = value.AbsolutePath.EndsWith('/') ? value : new Uri(value.AbsoluteUri + "/");
            if (Interlocked.CompareExchange(ref _publicBaseUrl, normalized, null) is not null)
            {
                throw new InvalidOperationException($"{nameof(PublicBaseUrl)} is already set.");
            }
        }
    }

    /// <inheritdoc/>
    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        string path = PathOf(key);
        ArgumentNullException.ThrowIfNull(content);
        string incoming = Path.Combine(_incomingRoot, Guid.NewGuid().ToString("N"));
        try
        {
            var file = new FileStream(incoming, FileMode.CreateNew, FileAccess.Write, FileShare.None, CopyBufferSize, useAsync: true);
            await using (file.ConfigureAwait(false))
            {
                await content.CopyToAsync(file, CopyBufferSize, cancellationToken).ConfigureAwait(false);
                await file.FlushAsync(cancellationToken).ConfigureAwait(false);

                // Durable before visible: a crash right after the rename must not leave an empty object.
                file.Flush(flushToDisk: true);
            }

            Directory.CreateDirectory(Path.GetDirectoryName(path)!);
            File.Move(incoming, path, overwrite: true);
        }
        catch
        {
            File.Delete(incoming);
            throw;
        }
    }

    /// <inheritdoc/>
    public Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        string path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        try
        {
            // FileShare.Delete lets a concurrent overwrite or delete proceed; this reader keeps the old bytes.
            Stream stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read | FileShare.Delete, CopyBufferSize, useAsync: true);
            return Task.FromResult(stream);
        }
        catch (Exception exception) when (exception is FileNotFoundException or DirectoryNotFoundException
            || (exception is UnauthorizedAccessException && Directory.Exists(path)))
        {
            throw new ObjectNotFoundException(key);
        }
    }

    /// <inheritdoc/>
    public Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        string path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();
        var file = new FileInfo(path);
        return Task.FromResult(file.Exists ? new ObjectInfo(key, file.Length) : null);
    }

    /// <inheritdoc/>
    public Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        string path = PathOf(key);
        cancellationToken.ThrowIfCancellationRequested();

        // File.Delete ignores a missing file but throws for a missing folder on the way.
        if (File.Exists(path))
        {
            File.Delete(path);
        }

        return Task.CompletedTask;
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException"><see cref="PublicBaseUrl"/> is not set.</exception>
    public Uri PresignGet(string key, TimeSpan lifetime) => Presign(key, "GET", lifetime);

    /// <inheritdoc/>
    /// <exception cref="InvalidOperationException"><see cref="PublicBaseUrl"/> is not set.</exception>
    public Uri PresignPut(string key, TimeSpan lifetime) => Presign(key, "PUT", lifetime);

    /// <summary>
    /// Whether a request carrying a presigned URL's <c>expires</c> and <c>signature</c> parameters may
    /// use <paramref name="method"/> on <paramref name="key"/> at <paramref name="now"/>.
    /// </summary>
    /// <param name="key">The key from the request path.</param>
    /// <param name="method">The HTTP method of the request (GET or PUT).</param>
    /// <param name="expiresUnixSeconds">The URL's <c>expires</c> parameter.</param>
    /// <param name="signature">The URL's <c>signature</c> parameter (hex).</param>
    /// <param name="now">The current time.</param>
    public bool IsAuthorized(string key, string method, long expiresUnixSeconds, string signature, DateTimeOffset now)
    {
        if (!ObjectKeys.IsValid(key) || method is not ("GET" or "PUT") || signature is null
            || now.ToUnixTimeSeconds() > expiresUnixSeconds)
        {
            return false;
        }

        Span<byte> presented = stackalloc byte[HMACSHA256.HashSizeInBytes];
        if (signature.Length != presented.Length * 2
            || Convert.FromHexString(signature, presented, out _, out int written) != System.Buffers.OperationStatus.Done
            || written != presented.Length)
        {
            return false;
        }

        Span<byte> expected = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Sign(key, method, expiresUnixSeconds, expected);
        return CryptographicOperations.FixedTimeEquals(expected, presented);
    }

    private Uri Presign(string key, string method, TimeSpan lifetime)
    {
        ObjectKeys.Validate(key);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        Uri baseUrl = PublicBaseUrl;

        // Round up so a URL never expires before the lifetime asked for.
        long expires = (long)Math.Ceiling((_timeProvider.GetUtcNow() + lifetime).ToUnixTimeMilliseconds() / 1000.0);
        Span<byte> signature = stackalloc byte[HMACSHA256.HashSizeInBytes];
        Sign(key, method, expires, signature);
        return new Uri(baseUrl, string.Create(
            CultureInfo.InvariantCulture,
            $"objects/{key}?method={method}&expires={expires}&signature={Convert.ToHexStringLower(signature)}"));
    }

    private void Sign(string key, string method, long expiresUnixSeconds, Span<byte> destination)
    {
        // Newlines cannot occur in any part, so the message is unambiguous.
        string message = string.Create(CultureInfo.InvariantCulture, $"{method}\n{key}\n{expiresUnixSeconds}");
        HMACSHA256.HashData(_signingKey, Encoding.ASCII.GetBytes(message), destination);
    }

    private static byte[] LoadOrCreateSigningKey(string path)
    {
        if (!File.Exists(path))
        {
            // Written under a temporary name and moved into place without overwriting: of two stores opening one
            // folder together, the first key wins and both read it.
            string temporary = $"{path}.{Guid.NewGuid():N}";
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                using (var writer = new StreamWriter(temporary, Encoding.ASCII, options))
                {
                    writer.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(MinSigningKeyLength)));
                }

                File.Move(temporary, path, overwrite: false);
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another store made the key first.
            }
            finally
            {
                File.Delete(temporary);
            }
        }

        string text = File.ReadAllText(path, Encoding.ASCII).Trim();
        try
        {
            byte[] key = Convert.FromHexString(text);
            if (key.Length >= MinSigningKeyLength)
            {
                return key;
            }
        }
        catch (FormatException)
        {
            // Reported below.
        }

        throw new InvalidOperationException($"{path} does not hold a signing key of at least {MinSigningKeyLength} bytes in hex; delete it to make a new one.");
    }

    private string PathOf(string key)
    {
        ObjectKeys.Validate(key);
        return Path.Combine(_objectsRoot, key);
    }
}
