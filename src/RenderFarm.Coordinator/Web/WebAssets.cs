using System.Collections.Frozen;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Routing;
using Microsoft.AspNetCore.Builder;

namespace RenderFarm.Coordinator.Web;

/// <summary>The style sheet and script, embedded in the coordinator's assembly (Web/Static) and served with ETags.</summary>
internal static class WebAssets
{
    private const string ResourcePrefix = "RenderFarm.Web.";

    private static readonly Lazy<FrozenDictionary<string, (byte[] Bytes, string ContentType, string ETag)>> s_assets = new(Load);

    public static void Map(RouteGroupBuilder web) =>
        web.MapGet("/static/{name}", (string name, HttpContext context) =>
        {
            if (!s_assets.Value.TryGetValue(name, out var asset))
            {
                return Results.NotFound();
            }

            WebLayout.SecurityHeaders(context);
            context.Response.Headers.CacheControl = "no-cache";
            context.Response.Headers.ETag = asset.ETag;
            return context.Request.Headers.IfNoneMatch == asset.ETag
                ? Results.StatusCode(StatusCodes.Status304NotModified)
                : Results.Bytes(asset.Bytes, asset.ContentType);
        });

    private static FrozenDictionary<string, (byte[] Bytes, string ContentType, string ETag)> Load()
    {
        var assets = new Dictionary<string, (byte[], string, string)>(StringComparer.Ordinal);
        System.Reflection.Assembly assembly = typeof(WebAssets).Assembly;
        foreach (string resource in assembly.GetManifestResourceNames().Where(r => r.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            byte[] bytes = copy.ToArray();
            string name = resource[ResourcePrefix.Length..];
            string type = Path.GetExtension(name) switch
            {
                ".css" => "text/css; charset=utf-8",
                ".js" => "text/javascript; charset=utf-8",
                ".svg" => "image/svg+xml",
                _ => "application/octet-stream",
            };
            assets[name] = (bytes, type, $"\"{Convert.ToHexStringLower(SHA256.HashData(bytes))[..16]}\"");
        }

        return assets.ToFrozenDictionary(StringComparer.Ordinal);
    }
}
