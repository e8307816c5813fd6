using System.Net;
using System.Net.Http.Headers;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Every refusal, including those the framework answers before any endpoint runs, carries a problem body.</summary>
public sealed class ProblemBodyFacts
{
    // Guards: an upload without an accepted content type was answered 415 with an empty body, as were unknown routes (404) and
    // wrong methods (405), so clients had nothing to show but a status code.
    [Fact]
    public async Task Refusals_without_an_endpoint_answer_carry_a_one_line_problem_detail()
    {
        await using TestFarm farm = await TestFarm.StartAsync();

        // curl --data-binary sends application/x-www-form-urlencoded unless told otherwise.
        foreach (string type in new[] { "application/x-www-form-urlencoded", "text/html" })
        {
            using var content = new ByteArrayContent(TestFarm.SceneBytes);
            content.Headers.ContentType = new MediaTypeHeaderValue(type);
            using HttpResponseMessage unsupported = await farm.Client.PostAsync("api/scenes?name=a.glb", content);
            Assert.Contains(type, await TestFarm.ExpectProblemAsync(unsupported, HttpStatusCode.UnsupportedMediaType), StringComparison.Ordinal);
        }

        using HttpResponseMessage unknown = await farm.Client.GetAsync("api/no-such-thing");
        await TestFarm.ExpectProblemAsync(unknown, HttpStatusCode.NotFound);

        using HttpResponseMessage wrongMethod = await farm.Client.DeleteAsync("api/scenes");
        await TestFarm.ExpectProblemAsync(wrongMethod, HttpStatusCode.MethodNotAllowed);

        using HttpResponseMessage noToken = await farm.Client.PostAsync("api/leases", new StringContent("{\"queues\":[\"render\"],\"waitSeconds\":0}", System.Text.Encoding.UTF8, "application/json"));
        await TestFarm.ExpectProblemAsync(noToken, HttpStatusCode.Unauthorized);
    }
}
