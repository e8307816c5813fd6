using System.Diagnostics;
using System.Net;
using System.Text.Json;
using RenderFarm.Testing;
using Xunit.Abstractions;

namespace RenderFarm.Coordinator.Tests;

/// <summary>
/// Seeded fuzzing of <c>POST /api/scenes</c> end to end: mutated .gltf and .glb files (see
/// <see cref="GltfMutator"/>) are each stored (201) or refused with a 4xx problem whose detail is one line,
/// never a 5xx, a dropped connection or a request that does not finish. The importer's own fuzz fact
/// (SceneFuzzFacts) runs many more cases and bounds their memory; this one proves the HTTP layer maps every
/// outcome.
/// </summary>
public sealed class SceneUploadFuzzFacts
{
    private const int Seed = 1207;
    private const int MaxCases = 400;

    // Within the suite's fuzzing budget; the cases run in a fixed order, so a shorter run is a prefix of a longer one.
    private static readonly TimeSpan s_timeBudget = TimeSpan.FromSeconds(20);

    private readonly ITestOutputHelper _output;

    public SceneUploadFuzzFacts(ITestOutputHelper output)
    {
        _output = output;
    }

    [Fact]
    public async Task Mutated_scene_uploads_are_stored_or_refused_with_a_one_line_4xx()
    {
        await using TestFarm farm = await TestFarm.StartAsync();
        byte[] gltf = TestGltf.Triangle(imageUri: TestGltf.PngDataUri(TestGltf.BlankPng(4, 4)));
        byte[] glb = TestFarm.SceneBytes;
        var random = new Random(Seed);
        var failures = new List<string>();
        var clock = Stopwatch.StartNew();
        int cases = 0;
        int stored = 0;
        while (cases < MaxCases && clock.Elapsed < s_timeBudget && failures.Count < 10)
        {
            (string kind, byte[] bytes, string extension) = GltfMutator.Mutate(random, gltf, glb);
            cases++;
            using HttpResponseMessage response = await farm.PostUploadAsync("scenes", "case" + extension, bytes);
            string body = await response.Content.ReadAsStringAsync();
            int status = (int)response.StatusCode;
            if (status == 201)
            {
                stored++;
            }
            else if (status is < 400 or >= 500 || OneLineDetail(body) is null)
            {
                failures.Add($"case {cases} ({kind}, {extension}): {status} {body[..Math.Min(body.Length, 300)]}");
            }
        }

        _output.WriteLine($"{cases} uploads in {clock.Elapsed.TotalSeconds:F1} s (seed {Seed}): {stored} stored, {cases - stored} refused");
        Assert.True(failures.Count == 0, string.Join(Environment.NewLine, failures));
        Assert.True(stored > 0 && stored < cases, $"{stored} of {cases} stored");
    }

    private static string? OneLineDetail(string body)
    {
        try
        {
            using JsonDocument problem = JsonDocument.Parse(body);
            return problem.RootElement.TryGetProperty("detail", out JsonElement detail)
                && detail.GetString() is { Length: > 0 } text
                && !text.Contains('\n', StringComparison.Ordinal) ? text : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }
}
