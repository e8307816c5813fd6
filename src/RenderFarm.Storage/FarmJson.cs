using System.Text.Json;

namespace RenderFarm.Storage;

/// <summary>JSON form of the farm records, as the PostgreSQL store keeps them in jsonb columns.</summary>
/// <remarks>
/// The core types carry their own JSON shape: <c>FrameRange</c> and <c>ImageSize</c> deserialize
/// through their validating constructors, enums as names.
/// </remarks>
internal static class FarmJson
{
    public static JsonSerializerOptions Options { get; } = CreateOptions();

    private static JsonSerializerOptions CreateOptions()
    {
        var options = new JsonSerializerOptions(JsonSerializerDefaults.Web);
        options.MakeReadOnly(populateMissingResolver: true);
        return options;
    }
}
