using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Security.Cryptography;
using System.Text.Json;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Worker;

/// <content>Presigned object transfers: downloads checked against their SHA-256 as they arrive, uploads streamed from a file.</content>
public sealed partial class FarmClient
{
    /// <summary>
    /// Downloads a presigned object to <paramref name="destinationPath"/>, which appears only once the
    /// whole object arrived and, when <see cref="ObjectLink.Sha256"/> is given, matched it.
    /// </summary>
    /// <returns>The SHA-256 of the content, lowercase hex.</returns>
    /// <exception cref="InvalidDataException">The content does not match the expected SHA-256.</exception>
    /// <exception cref="FarmRequestException">The store refused the request (e.g. the URL expired).</exception>
    public async Task<string> DownloadAsync(ObjectLink link, string destinationPath, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(link);
        ArgumentNullException.ThrowIfNull(destinationPath);
        string operation = "GET " + Redact(link.Url);
        string partial = $"{destinationPath}.{Guid.NewGuid():N}.partial";
        try
        {
            string sha256 = await RetryAsync(
                operation,
                async ct =>
                {
                    using var request = new HttpRequestMessage(HttpMethod.Get, link.Url);
                    using HttpResponseMessage response = await _http.SendAsync(request, HttpCompletionOption.ResponseHeadersRead, ct)
                        .ConfigureAwait(false);
                    await ThrowIfFailedAsync(response, operation, leaseScoped: false, ct).ConfigureAwait(false);
                    Stream body = await response.Content.ReadAsStreamAsync(ct).ConfigureAwait(false);
                    await using (body.ConfigureAwait(false))
                    {
                        return await CopyHashedAsync(body, partial, ct).ConfigureAwait(false);
                    }
                },
                timeout: null,
                cancellationToken).ConfigureAwait(false);
            if (link.Sha256 is not null && !string.Equals(sha256, link.Sha256, StringComparison.OrdinalIgnoreCase))
            {
                throw new InvalidDataException(
                    $"{operation} delivered content with SHA-256 {sha256}, but {link.Sha256} was expected.");
            }

            File.Move(partial, destinationPath, overwrite: true);
            return sha256;
        }
        finally
        {
            File.Delete(partial);
        }
    }

    /// <summary>Uploads a file to a presigned PUT URL, streaming it with its length declared.</summary>
    /// <exception cref="FarmRequestException">The store refused the upload (e.g. the URL expired).</exception>
    public async Task UploadAsync(Uri url, string filePath, string contentType, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(url);
        ArgumentNullException.ThrowIfNull(filePath);
        ArgumentNullException.ThrowIfNull(contentType);
        string operation = "PUT " + Redact(url);
        await RetryAsync(
            operation,
            async ct =>
            {
                var file = new FileStream(filePath, FileMode.Open, FileAccess.Read, FileShare.Read, CopyBufferSize, useAsync: true);
                await using (file.ConfigureAwait(false))
                {
                    using var content = new StreamContent(file, CopyBufferSize);
                    content.Headers.ContentLength = file.Length;
                    content.Headers.ContentType = new MediaTypeHeaderValue(contentType);
                    using var request = new HttpRequestMessage(HttpMethod.Put, url) { Content = content };
                    using HttpResponseMessage response = await _http.SendAsync(request, ct).ConfigureAwait(false);
                    await ThrowIfFailedAsync(response, operation, leaseScoped: false, ct).ConfigureAwait(false);
                    return true;
                }
            },
            timeout: null,
            cancellationToken).ConfigureAwait(false);
    }

    private static async Task<string> CopyHashedAsync(Stream source, string path, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var file = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, CopyBufferSize, useAsync: true);
        await using (file.ConfigureAwait(false))
        {
            byte[] buffer = new byte[CopyBufferSize];
            int read;
            while ((read = await source.ReadAsync(buffer, cancellationToken).ConfigureAwait(false)) > 0)
            {
                hash.AppendData(buffer, 0, read);
                await file.WriteAsync(buffer.AsMemory(0, read), cancellationToken).ConfigureAwait(false);
            }
        }

        return Convert.ToHexStringLower(hash.GetHashAndReset());
    }

    // Presigned URLs carry their signature in the query; keep it out of messages and logs.
    private static string Redact(Uri url) => url.GetLeftPart(UriPartial.Path);
}
