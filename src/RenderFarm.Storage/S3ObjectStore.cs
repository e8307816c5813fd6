using System.Buffers;
using System.Net;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;
using RenderFarm.Core.Storage;

namespace RenderFarm.Storage;

/// <summary>Where an <see cref="S3ObjectStore"/> keeps its objects.</summary>
/// <param name="ServiceUrl">Endpoint of the S3-compatible service, e.g. <c>http://minio:9000</c>.</param>
/// <param name="Bucket">Bucket holding the objects.</param>
/// <param name="AccessKey">Access key id.</param>
/// <param name="SecretKey">Secret access key.</param>
/// <param name="Region">Signing region; S3-compatible stores usually accept any.</param>
/// <param name="PublicServiceUrl">
/// The same service as providers and clients reach it (e.g. <c>https://s3.farm.example</c>), named in presigned URLs;
/// null when <paramref name="ServiceUrl"/> is reachable by them too. A SigV4 signature covers the host, so the URL is
/// signed for this address rather than rewritten.
/// </param>
public sealed record S3StorageOptions(Uri ServiceUrl, string Bucket, string AccessKey, string SecretKey, string Region = "us-east-1", Uri? PublicServiceUrl = null);

/// <summary>
/// Objects in a bucket of any S3-compatible store (AWS S3, MinIO, s3rver) through AWSSDK.S3, with
/// path-style addressing. Call <see cref="EnsureBucketAsync"/> once at start-up.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    // Objects up to one part go up in a single PUT; larger ones as a multipart upload of parts this
    // size, so a stream of unknown length is sent with bounded memory (S3 allows 10,000 parts).
    private const int PartSize = 8 * 1024 * 1024;
    private const int MaxParts = 10_000;

    // SigV4 query signatures are valid for at most a week.
    private static readonly TimeSpan s_maxPresignLifetime = TimeSpan.FromDays(7);

    private readonly AmazonS3Client _client;
    private readonly AmazonS3Client _presigner;
    private readonly string _bucket;
    private readonly Protocol _protocol;

    /// <summary>Creates a store; it sends nothing until used.</summary>
    public S3ObjectStore(S3StorageOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.ServiceUrl);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.Bucket);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.AccessKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(options.SecretKey);
        CheckHttpUrl(options.ServiceUrl);
        if (options.PublicServiceUrl is not null)
        {
            CheckHttpUrl(options.PublicServiceUrl);
        }

        _client = CreateClient(options, options.ServiceUrl);

        // Presigning is local arithmetic: a second client only decides the address the URLs name.
        _presigner = options.PublicServiceUrl is null ? _client : CreateClient(options, options.PublicServiceUrl);
        _bucket = options.Bucket;
        _protocol = (options.PublicServiceUrl ?? options.ServiceUrl).Scheme == Uri.UriSchemeHttps ? Protocol.HTTPS : Protocol.HTTP;
    }

    private static void CheckHttpUrl(Uri url)
    {
        if (!url.IsAbsoluteUri || (url.Scheme != Uri.UriSchemeHttp && url.Scheme != Uri.UriSchemeHttps))
        {
            throw new ArgumentException($"'{url}' is not an absolute http(s) URL.", nameof(url));
        }
    }

    private static AmazonS3Client CreateClient(S3StorageOptions options, Uri serviceUrl)
    {
        var config = new AmazonS3Config
        {
            ServiceURL = serviceUrl.AbsoluteUri,
            AuthenticationRegion = options.Region,
            ForcePathStyle = true,

            // SDK v4 adds CRC checksums to every upload by default, sent as aws-chunked trailers that
            // MinIO versions and s3rver reject; send them only where an operation requires one.
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
        };
        return new AmazonS3Client(new BasicAWSCredentials(options.AccessKey, options.SecretKey), config);
    }

    /// <summary>The bucket holding the objects.</summary>
    public string Bucket => _bucket;

    /// <summary>Creates the bucket unless it exists.</summary>
    public async Task EnsureBucketAsync(CancellationToken cancellationToken = default)
    {
        try
        {
            await _client.PutBucketAsync(new PutBucketRequest { BucketName = _bucket }, cancellationToken).ConfigureAwait(false);
        }
        catch (AmazonS3Exception exception) when (exception.ErrorCode is "BucketAlreadyOwnedByYou" or "BucketAlreadyExists")
        {
            // Another coordinator, or an earlier start, created it.
        }
    }

    /// <inheritdoc/>
    public async Task PutAsync(string key, Stream content, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        ArgumentNullException.ThrowIfNull(content);
        byte[] buffer = ArrayPool<byte>.Shared.Rent(PartSize);
        try
        {
            int length = await content.ReadAtLeastAsync(buffer.AsMemory(0, PartSize), PartSize, throwOnEndOfStream: false, cancellationToken)
                .ConfigureAwait(false);
            if (length < PartSize)
            {
                await PutObjectAsync(key, buffer, length, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await PutMultipartAsync(key, content, buffer, length, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }

    /// <inheritdoc/>
    public async Task<Stream> OpenReadAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            GetObjectResponse response = await _client.GetObjectAsync(_bucket, key, cancellationToken).ConfigureAwait(false);

            // The response stream is the HTTP body; disposing it releases the connection.
            return response.ResponseStream;
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            throw new ObjectNotFoundException(key);
        }
    }

    /// <inheritdoc/>
    public async Task<ObjectInfo?> StatAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);
        try
        {
            GetObjectMetadataResponse response = await _client.GetObjectMetadataAsync(_bucket, key, cancellationToken).ConfigureAwait(false);
            return new ObjectInfo(key, response.ContentLength);
        }
        catch (AmazonS3Exception exception) when (exception.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
    }

    /// <inheritdoc/>
    public async Task DeleteAsync(string key, CancellationToken cancellationToken = default)
    {
        ObjectKeys.Validate(key);

        // S3 answers 204 for a missing key too.
        await _client.DeleteObjectAsync(_bucket, key, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Uri PresignGet(string key, TimeSpan lifetime) => Presign(key, HttpVerb.GET, lifetime);

    /// <inheritdoc/>
    public Uri PresignPut(string key, TimeSpan lifetime) => Presign(key, HttpVerb.PUT, lifetime);

    /// <inheritdoc/>
    public void Dispose()
    {
        if (!ReferenceEquals(_presigner, _client))
        {
            _presigner.Dispose();
        }

        _client.Dispose();
    }

    private Uri Presign(string key, HttpVerb verb, TimeSpan lifetime)
    {
        ObjectKeys.Validate(key);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(lifetime, TimeSpan.Zero);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(lifetime, s_maxPresignLifetime);
        string url = _presigner.GetPreSignedURL(new GetPreSignedUrlRequest
        {
            BucketName = _bucket,
            Key = key,
            Verb = verb,
            Expires = DateTime.UtcNow.Add(lifetime),
            Protocol = _protocol,
        });
        return new Uri(url);
    }

    private async Task PutObjectAsync(string key, byte[] buffer, int length, CancellationToken cancellationToken)
    {
        using var body = new MemoryStream(buffer, 0, length, writable: false);
        await _client.PutObjectAsync(
            new PutObjectRequest
            {
                BucketName = _bucket,
                Key = key,
                InputStream = body,
                AutoCloseStream = false,

                // aws-chunked bodies are an AWS extension; a known-length body signed whole works everywhere.
                UseChunkEncoding = false,
            },
            cancellationToken).ConfigureAwait(false);
    }

    private async Task PutMultipartAsync(string key, Stream content, byte[] buffer, int firstPartLength, CancellationToken cancellationToken)
    {
        InitiateMultipartUploadResponse upload = await _client.InitiateMultipartUploadAsync(
            new InitiateMultipartUploadRequest { BucketName = _bucket, Key = key },
            cancellationToken).ConfigureAwait(false);
        try
        {
            var parts = new List<PartETag>();
            int length = firstPartLength;
            while (length > 0)
            {
                if (parts.Count == MaxParts)
                {
                    throw new InvalidOperationException(
                        $"Object '{key}' is larger than {(long)PartSize * MaxParts} bytes, the most one upload may hold.");
                }

                int partNumber = parts.Count + 1;
                using (var body = new MemoryStream(buffer, 0, length, writable: false))
                {
                    UploadPartResponse part = await _client.UploadPartAsync(
                        new UploadPartRequest
                        {
                            BucketName = _bucket,
                            Key = key,
                            UploadId = upload.UploadId,
                            PartNumber = partNumber,
                            InputStream = body,
                            PartSize = length,
                            UseChunkEncoding = false,
                        },
                        cancellationToken).ConfigureAwait(false);
                    parts.Add(new PartETag(partNumber, part.ETag));
                }

                length = await content.ReadAtLeastAsync(buffer.AsMemory(0, PartSize), PartSize, throwOnEndOfStream: false, cancellationToken)
                    .ConfigureAwait(false);
            }

            await _client.CompleteMultipartUploadAsync(
                new CompleteMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = upload.UploadId, PartETags = parts },
                cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            // Parts of an abandoned upload are stored (and billed) until aborted. A failed abort must
            // not hide the failure that caused it; bucket lifecycle rules clean up what it leaves.
            try
            {
                await _client.AbortMultipartUploadAsync(
                    new AbortMultipartUploadRequest { BucketName = _bucket, Key = key, UploadId = upload.UploadId },
                    CancellationToken.None).ConfigureAwait(false);
            }
            catch (Exception abortException) when (abortException is AmazonServiceException or HttpRequestException)
            {
            }

            throw;
        }
    }
}
