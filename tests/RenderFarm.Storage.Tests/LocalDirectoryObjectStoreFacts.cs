using System.Globalization;
using System.Web;
using RenderFarm.Core.Storage;

namespace RenderFarm.Storage.Tests;

public sealed class LocalDirectoryObjectStoreFacts : ObjectStoreContract
{
    private static readonly Uri s_baseUrl = new("http://127.0.0.1:5000/farm/");

    private readonly DirectoryInfo _folder = Directory.CreateTempSubdirectory("renderfarm-objects-");

    private LocalDirectoryObjectStore LocalStore => (LocalDirectoryObjectStore)Store;

    [Fact]
    public void IsAuthorized_accepts_a_urls_own_parameters_until_it_expires()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        Uri url = LocalStore.PresignGet("scenes/a.glb", TimeSpan.FromMinutes(5));
        (string key, string method, long expires, string signature) = Parse(url);

        Assert.Equal("scenes/a.glb", key);
        Assert.Equal("GET", method);
        Assert.InRange(expires, now.AddMinutes(5).ToUnixTimeSeconds(), now.AddMinutes(5).ToUnixTimeSeconds() + 2);
        Assert.True(LocalStore.IsAuthorized(key, "GET", expires, signature, now));
        Assert.True(LocalStore.IsAuthorized(key, "GET", expires, signature, DateTimeOffset.FromUnixTimeSeconds(expires)));
        Assert.False(LocalStore.IsAuthorized(key, "GET", expires, signature, DateTimeOffset.FromUnixTimeSeconds(expires + 1)));
    }

    [Fact]
    public void IsAuthorized_rejects_a_tampered_key_method_expiry_or_signature()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        (string key, _, long expires, string signature) = Parse(LocalStore.PresignPut("outputs/f1.png", TimeSpan.FromMinutes(5)));
        char flipped = signature[^1] == '0' ? '1' : '0';

        Assert.True(LocalStore.IsAuthorized(key, "PUT", expires, signature, now));
        Assert.False(LocalStore.IsAuthorized("outputs/f2.png", "PUT", expires, signature, now));
        Assert.False(LocalStore.IsAuthorized(key, "GET", expires, signature, now));
        Assert.False(LocalStore.IsAuthorized(key, "put", expires, signature, now));
        Assert.False(LocalStore.IsAuthorized(key, "PUT", expires + 3600, signature, now));
        Assert.False(LocalStore.IsAuthorized(key, "PUT", expires, signature[..^1] + flipped, now));
        Assert.False(LocalStore.IsAuthorized(key, "PUT", expires, signature.ToUpperInvariant() + "00", now));
        Assert.False(LocalStore.IsAuthorized(key, "PUT", expires, "not hex", now));
        Assert.False(LocalStore.IsAuthorized(key, "PUT", expires, "", now));
        Assert.False(LocalStore.IsAuthorized("../" + key, "PUT", expires, signature, now));
    }

    [Fact]
    public void Urls_are_signed_with_the_stores_key()
    {
        byte[] signingKey = RandomBytes(32, seed: 7);
        using var sameKeyFolder = new TemporaryFolder();
        var restarted = new LocalDirectoryObjectStore(sameKeyFolder.Path, signingKey) { PublicBaseUrl = s_baseUrl };
        var original = new LocalDirectoryObjectStore(_folder.FullName, signingKey) { PublicBaseUrl = s_baseUrl };
        (string key, _, long expires, string signature) = Parse(original.PresignGet("scenes/a.glb", TimeSpan.FromMinutes(1)));

        Assert.True(restarted.IsAuthorized(key, "GET", expires, signature, DateTimeOffset.UtcNow));
        Assert.False(LocalStore.IsAuthorized(key, "GET", expires, signature, DateTimeOffset.UtcNow));
        Assert.Throws<ArgumentException>(() => new LocalDirectoryObjectStore(_folder.FullName, new byte[16]));
    }

    // Guards restarts: a store reopened on the same folder without a configured key accepted none of the URLs handed
    // out before (a random key per process), so every provider holding one failed its task.
    [Fact]
    public void Without_a_given_key_urls_stay_valid_when_the_store_is_reopened_on_its_folder()
    {
        var first = new LocalDirectoryObjectStore(_folder.FullName) { PublicBaseUrl = s_baseUrl };
        (string key, _, long expires, string signature) = Parse(first.PresignPut("jobs/a/uploads/000001.png", TimeSpan.FromMinutes(1)));
        var reopened = new LocalDirectoryObjectStore(_folder.FullName) { PublicBaseUrl = s_baseUrl };
        using var otherFolder = new TemporaryFolder();
        var other = new LocalDirectoryObjectStore(otherFolder.Path) { PublicBaseUrl = s_baseUrl };

        Assert.True(reopened.IsAuthorized(key, "PUT", expires, signature, DateTimeOffset.UtcNow));
        Assert.False(other.IsAuthorized(key, "PUT", expires, signature, DateTimeOffset.UtcNow));
        string keyFile = Path.Combine(_folder.FullName, "presign.key");
        Assert.True(File.Exists(keyFile));
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(keyFile));
        }
    }

    [Fact]
    public void Urls_use_the_public_base_url_which_is_set_once()
    {
        var store = new LocalDirectoryObjectStore(_folder.FullName);

        Assert.Throws<InvalidOperationException>(() => store.PresignGet("scenes/a.glb", TimeSpan.FromMinutes(1)));
        store.PublicBaseUrl = new Uri("http://127.0.0.1:5000/farm");
        Assert.Throws<InvalidOperationException>(() => store.PublicBaseUrl = s_baseUrl);
        Assert.Throws<ArgumentException>(() => new LocalDirectoryObjectStore(_folder.FullName).PublicBaseUrl = new Uri("ftp://host/"));

        Uri url = store.PresignGet("scenes/a.glb", TimeSpan.FromMinutes(1));
        Assert.Equal("http://127.0.0.1:5000/farm/objects/scenes/a.glb", url.GetLeftPart(UriPartial.Path));
    }

    // s3rver does not check SigV4 signatures, so scoping is tested here, where this code enforces it.
    [Fact]
    public async Task A_presigned_GET_url_does_not_allow_PUT()
    {
        await Store.PutAsync("scenes/kept.glb", new MemoryStream([1, 2, 3]));

        Uri url = Store.PresignGet("scenes/kept.glb", TimeSpan.FromMinutes(10));

        Assert.False(await PutWithPresignedUrlAsync(url, [9, 9, 9]));
        Assert.Equal([1, 2, 3], await ReadAsync("scenes/kept.glb"));
    }

    [Fact]
    public async Task A_presigned_url_does_not_open_another_object()
    {
        await Store.PutAsync("scenes/public.glb", new MemoryStream([1]));
        await Store.PutAsync("scenes/secret.glb", new MemoryStream([2]));

        Uri url = Store.PresignGet("scenes/public.glb", TimeSpan.FromMinutes(10));
        var other = new Uri(url.AbsoluteUri.Replace("scenes/public.glb", "scenes/secret.glb", StringComparison.Ordinal));

        Assert.Null(await GetWithPresignedUrlAsync(other));
    }

    [Fact]
    public async Task A_failed_upload_leaves_the_previous_object_and_no_partial_file()
    {
        byte[] original = RandomBytes(1000, seed: 8);
        await Store.PutAsync("scenes/a.glb", new MemoryStream(original));

        await Assert.ThrowsAsync<IOException>(() => Store.PutAsync("scenes/a.glb", new UnseekableStream(RandomBytes(500_000, seed: 9), failAfter: 300_000)));

        Assert.Equal(original, await ReadAsync("scenes/a.glb"));
        Assert.Empty(Directory.EnumerateFileSystemEntries(Path.Combine(_folder.FullName, "incoming")));
    }

    [Fact]
    public async Task A_reader_keeps_the_bytes_it_opened_while_the_object_is_replaced()
    {
        byte[] first = RandomBytes(200_000, seed: 10);
        await Store.PutAsync("scenes/a.glb", new MemoryStream(first));

        await using Stream reader = await Store.OpenReadAsync("scenes/a.glb");
        await Store.PutAsync("scenes/a.glb", new MemoryStream(RandomBytes(10, seed: 11)));
        await Store.DeleteAsync("scenes/a.glb");
        using var copy = new MemoryStream();
        await reader.CopyToAsync(copy);

        Assert.Equal(first, copy.ToArray());
    }

    protected override Task<IObjectStore> CreateStoreAsync() =>
        Task.FromResult<IObjectStore>(new LocalDirectoryObjectStore(_folder.FullName) { PublicBaseUrl = s_baseUrl });

    // What the coordinator's /objects/{**key} endpoint does: check the URL, then serve the store.
    protected override async Task<byte[]?> GetWithPresignedUrlAsync(Uri url)
    {
        (string key, _, long expires, string signature) = Parse(url);
        return LocalStore.IsAuthorized(key, "GET", expires, signature, DateTimeOffset.UtcNow) ? await ReadAsync(key) : null;
    }

    protected override async Task<bool> PutWithPresignedUrlAsync(Uri url, byte[] content)
    {
        (string key, _, long expires, string signature) = Parse(url);
        if (!LocalStore.IsAuthorized(key, "PUT", expires, signature, DateTimeOffset.UtcNow))
        {
            return false;
        }

        await Store.PutAsync(key, new MemoryStream(content));
        return true;
    }

    public override async Task DisposeAsync()
    {
        await base.DisposeAsync();
        _folder.Delete(recursive: true);
    }

    private static (string Key, string Method, long Expires, string Signature) Parse(Uri url)
    {
        string prefix = s_baseUrl.AbsolutePath + "objects/";
        Assert.StartsWith(prefix, url.AbsolutePath, StringComparison.Ordinal);
        var query = HttpUtility.ParseQueryString(url.Query);
        return (
            url.AbsolutePath[prefix.Length..],
            query["method"] ?? "",
            long.Parse(query["expires"] ?? "0", CultureInfo.InvariantCulture),
            query["signature"] ?? "");
    }

    private sealed class TemporaryFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("renderfarm-objects-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}
