using System.Globalization;
using System.Net.Http.Headers;
using System.Web;
using RenderFarm.Core.Storage;
using RenderFarm.Testing;

namespace RenderFarm.Storage.Tests;

[Trait("Category", "Integration")]
[Collection(S3Collection.Name)]
public sealed class S3ObjectStoreFacts(S3Fixture fixture) : ObjectStoreContract
{
    private static readonly HttpClient s_http = new();

    [Fact]
    public async Task EnsureBucketAsync_accepts_an_existing_bucket()
    {
        var store = (S3ObjectStore)Store;
        await store.EnsureBucketAsync();

        await store.PutAsync("a", new MemoryStream([1]));
        await store.EnsureBucketAsync();

        Assert.Equal(new ObjectInfo("a", 1), await store.StatAsync("a"));
    }

    [Fact]
    public async Task Stores_with_different_buckets_do_not_see_each_others_objects()
    {
        using S3ObjectStore other = await CreateS3StoreAsync();
        await Store.PutAsync("scenes/a.glb", new MemoryStream([1]));

        Assert.Null(await other.StatAsync("scenes/a.glb"));
    }

    // s3rver checks a presigned URL's access key and expiry but not its SigV4 signature, so check here
    // that the URL is the path-style, host-only-signed form MinIO and AWS verify.
    [Fact]
    public void Presigned_urls_are_path_style_sigv4_urls_for_one_object()
    {
        var store = (S3ObjectStore)Store;

        Uri url = store.PresignPut("outputs/job/frame-0001.png", TimeSpan.FromMinutes(15));

        var query = HttpUtility.ParseQueryString(url.Query);
        Assert.Equal(fixture.Server.ServiceUrl.GetLeftPart(UriPartial.Authority), url.GetLeftPart(UriPartial.Authority));
        Assert.Equal($"/{store.Bucket}/outputs/job/frame-0001.png", url.AbsolutePath);
        Assert.Equal("AWS4-HMAC-SHA256", query["X-Amz-Algorithm"]);
        Assert.Equal("host", query["X-Amz-SignedHeaders"]);

        // The SDK turns the absolute expiry back into whole seconds after its first-use set-up, which can
        // take a while, and may round up by one.
        Assert.InRange(int.Parse(query["X-Amz-Expires"]!, CultureInfo.InvariantCulture), 880, 901);
        Assert.StartsWith($"{Testing.S3Server.AccessKey}/", query["X-Amz-Credential"], StringComparison.Ordinal);
        Assert.Matches("^[0-9a-f]{64}$", query["X-Amz-Signature"]);
        Assert.Throws<ArgumentOutOfRangeException>(() => store.PresignGet("a", TimeSpan.FromDays(8)));
    }

    // Guards: presigned URLs named the address the coordinator reaches the store at (http://minio:9000 inside a compose
    // network), which providers outside that network cannot reach; a public address is now signed for instead.
    [Fact]
    public async Task Presigned_urls_name_the_public_address_and_work_there()
    {
        var internalUrl = new UriBuilder(fixture.Server.ServiceUrl) { Host = "127.0.0.1" }.Uri;
        var publicUrl = new UriBuilder(fixture.Server.ServiceUrl) { Host = "localhost" }.Uri;
        using var store = new S3ObjectStore(new S3StorageOptions(
            internalUrl, $"test-{Guid.NewGuid():N}", Testing.S3Server.AccessKey, Testing.S3Server.SecretKey, PublicServiceUrl: publicUrl));
        await store.EnsureBucketAsync();
        await store.PutAsync("frames/a.png", new MemoryStream([1, 2, 3]));

        Uri url = store.PresignGet("frames/a.png", TimeSpan.FromMinutes(5));

        Assert.Equal(publicUrl.GetLeftPart(UriPartial.Authority), url.GetLeftPart(UriPartial.Authority));
        Assert.Equal([1, 2, 3], await GetWithPresignedUrlAsync(url));
        Assert.Throws<ArgumentException>(() => new S3StorageOptions(internalUrl, "b", "k", "s", PublicServiceUrl: new Uri("ftp://x/")) is var o ? new S3ObjectStore(o) : null);
    }

    protected override async Task<IObjectStore> CreateStoreAsync() => await CreateS3StoreAsync();

    protected override async Task<byte[]?> GetWithPresignedUrlAsync(Uri url)
    {
        using HttpResponseMessage response = await s_http.GetAsync(url);
        return response.IsSuccessStatusCode ? await response.Content.ReadAsByteArrayAsync() : null;
    }

    protected override async Task<bool> PutWithPresignedUrlAsync(Uri url, byte[] content)
    {
        using var body = new ByteArrayContent(content);
        body.Headers.ContentType = new MediaTypeHeaderValue("application/octet-stream");
        using HttpResponseMessage response = await s_http.PutAsync(url, body);
        return response.IsSuccessStatusCode;
    }

    // A bucket per store keeps tests apart on the one server of the run.
    private async Task<S3ObjectStore> CreateS3StoreAsync()
    {
        var store = new S3ObjectStore(new S3StorageOptions(
            fixture.Server.ServiceUrl, $"test-{Guid.NewGuid():N}", Testing.S3Server.AccessKey, Testing.S3Server.SecretKey));
        await store.EnsureBucketAsync();
        return store;
    }
}
