using System.Security.Cryptography;
using RenderFarm.Core.Storage;

namespace RenderFarm.Storage.Tests;

/// <summary>
/// What every <see cref="IObjectStore"/> must do. Each implementation runs this suite through one
/// concrete subclass that says how to create a store and how a provider uses a presigned URL.
/// </summary>
public abstract class ObjectStoreContract : IAsyncLifetime
{
    private IObjectStore? _store;

    protected IObjectStore Store => _store ?? throw new InvalidOperationException("The store has not been created.");

    public static TheoryData<string> InvalidKeys =>
    [
        "",
        "/scenes/a.glb",
        "scenes//a.glb",
        "scenes/a.glb/",
        "scenes/../secret",
        "..",
        "./a",
        "scenes\\a.glb",
        "Scenes/a.glb",
        "scenes/a b.glb",
        "scenes/ä.glb",
        "scenes/a.glb?x=1",
    ];

    public async Task InitializeAsync() => _store = await CreateStoreAsync();

    public virtual async Task DisposeAsync()
    {
        switch (_store)
        {
            case IAsyncDisposable asyncDisposable:
                await asyncDisposable.DisposeAsync();
                break;
            case IDisposable disposable:
                disposable.Dispose();
                break;
        }
    }

    [Fact]
    public async Task Put_then_open_round_trips_a_multi_megabyte_stream_of_unknown_length()
    {
        // Over two 8 MiB parts, so a store that uploads in parts crosses part boundaries.
        byte[] content = RandomBytes(20 * 1024 * 1024 + 123, seed: 1);

        await Store.PutAsync("outputs/job/frame-0001.png", new UnseekableStream(content));

        Assert.Equal(SHA256.HashData(content), await ReadHashAsync("outputs/job/frame-0001.png"));
        Assert.Equal(new ObjectInfo("outputs/job/frame-0001.png", content.Length), await Store.StatAsync("outputs/job/frame-0001.png"));
    }

    [Fact]
    public async Task Put_stores_an_empty_object()
    {
        await Store.PutAsync("empty", new MemoryStream());

        Assert.Equal(new ObjectInfo("empty", 0), await Store.StatAsync("empty"));
        Assert.Empty(await ReadAsync("empty"));
    }

    [Fact]
    public async Task Put_replaces_an_existing_object()
    {
        await Store.PutAsync("scenes/a.glb", new MemoryStream(RandomBytes(5000, seed: 2)));
        byte[] replacement = RandomBytes(1200, seed: 3);

        await Store.PutAsync("scenes/a.glb", new MemoryStream(replacement));

        Assert.Equal(replacement, await ReadAsync("scenes/a.glb"));
        Assert.Equal(replacement.Length, (await Store.StatAsync("scenes/a.glb"))?.Size);
    }

    [Fact]
    public async Task Stat_of_a_missing_object_is_null()
    {
        Assert.Null(await Store.StatAsync("scenes/missing.glb"));
    }

    [Fact]
    public async Task Open_of_a_missing_object_throws_ObjectNotFoundException()
    {
        ObjectNotFoundException exception = await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("scenes/missing.glb"));

        Assert.Equal("scenes/missing.glb", exception.Key);
    }

    [Fact]
    public async Task Delete_removes_the_object_and_is_idempotent()
    {
        await Store.PutAsync("inputs/x.bin", new MemoryStream([1, 2, 3]));

        await Store.DeleteAsync("inputs/x.bin");
        await Store.DeleteAsync("inputs/x.bin");
        await Store.DeleteAsync("inputs/never-there.bin");

        Assert.Null(await Store.StatAsync("inputs/x.bin"));
        await Assert.ThrowsAsync<ObjectNotFoundException>(() => Store.OpenReadAsync("inputs/x.bin"));
    }

    [Theory]
    [MemberData(nameof(InvalidKeys))]
    public async Task Invalid_keys_are_rejected_by_every_operation(string key)
    {
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.PutAsync(key, new MemoryStream([1])));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.OpenReadAsync(key));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.StatAsync(key));
        await Assert.ThrowsAnyAsync<ArgumentException>(() => Store.DeleteAsync(key));
        Assert.ThrowsAny<ArgumentException>(() => Store.PresignGet(key, TimeSpan.FromMinutes(5)));
        Assert.ThrowsAny<ArgumentException>(() => Store.PresignPut(key, TimeSpan.FromMinutes(5)));
    }

    [Fact]
    public async Task Keys_with_every_allowed_character_work()
    {
        const string key = "a-z_0.9/sub.dir/3f2a-9c_x.tar.gz";
        await Store.PutAsync(key, new MemoryStream([42]));

        Assert.Equal([42], await ReadAsync(key));
    }

    [Fact]
    public async Task A_presigned_GET_url_reads_the_object()
    {
        byte[] content = RandomBytes(300_000, seed: 4);
        await Store.PutAsync("scenes/shared.glb", new MemoryStream(content));

        Uri url = Store.PresignGet("scenes/shared.glb", TimeSpan.FromMinutes(10));

        Assert.Equal(content, await GetWithPresignedUrlAsync(url));
    }

    [Fact]
    public async Task A_presigned_PUT_url_stores_the_object()
    {
        byte[] content = RandomBytes(250_000, seed: 5);

        Uri url = Store.PresignPut("outputs/job/frame-0002.png", TimeSpan.FromMinutes(10));

        Assert.True(await PutWithPresignedUrlAsync(url, content));
        Assert.Equal(content, await ReadAsync("outputs/job/frame-0002.png"));
    }

    /// <summary>Creates an empty store for one test.</summary>
    protected abstract Task<IObjectStore> CreateStoreAsync();

    /// <summary>What a provider holding the URL gets with a GET: the body, or null when refused.</summary>
    protected abstract Task<byte[]?> GetWithPresignedUrlAsync(Uri url);

    /// <summary>What a provider holding the URL achieves with a PUT of <paramref name="content"/>: true when accepted.</summary>
    protected abstract Task<bool> PutWithPresignedUrlAsync(Uri url, byte[] content);

    protected static byte[] RandomBytes(int length, int seed)
    {
        var bytes = new byte[length];
        new Random(seed).NextBytes(bytes);
        return bytes;
    }

    protected async Task<byte[]> ReadAsync(string key)
    {
        await using Stream stream = await Store.OpenReadAsync(key);
        using var copy = new MemoryStream();
        await stream.CopyToAsync(copy);
        return copy.ToArray();
    }

    private async Task<byte[]> ReadHashAsync(string key)
    {
        await using Stream stream = await Store.OpenReadAsync(key);
        return await SHA256.HashDataAsync(stream);
    }
}
