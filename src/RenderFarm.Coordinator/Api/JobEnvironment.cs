using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;

namespace RenderFarm.Coordinator.Api;

// A render job's environment map: named by the hash its upload returned, and only one the job's account uploaded.
internal sealed partial class JobService
{
    // The map a request names, with its strength and rotation; strength or rotation without a map is refused rather than ignored.
    private static EnvironmentMapSettings? EnvironmentOf(SubmitJobRequest request)
    {
        if (request.EnvironmentSha256 is not { } text)
        {
            return request.EnvironmentStrength is null && request.EnvironmentRotation is null
                ? null
                : throw new CoordinatorException(400, "environmentStrength and environmentRotation need environmentSha256, a map uploaded with POST /api/environments.");
        }

        string sha256 = text.Trim().ToLowerInvariant();
        if (!FarmKeys.IsSha256(sha256))
        {
            throw new CoordinatorException(400, "environmentSha256 must be the 64 hex digits returned by POST /api/environments.");
        }

        return new EnvironmentMapSettings(sha256, request.EnvironmentStrength ?? 1f, request.EnvironmentRotation ?? 0f);
    }

    // The account's own upload, whose bytes are still stored: a job never waits on a map no worker can fetch.
    private async Task CheckEnvironmentAsync(EnvironmentMapSettings? environment, string owner, CancellationToken cancellationToken)
    {
        if (environment is null)
        {
            return;
        }

        string missing = $"No environment map with SHA-256 {environment.Sha256}; upload it with POST /api/environments first.";
        await ReadOwnedNameAsync(FarmKeys.EnvironmentName(owner, environment.Sha256), missing, cancellationToken);
        if (await _objects.StatAsync(FarmKeys.Environment(environment.Sha256), cancellationToken) is null)
        {
            throw new CoordinatorException(404, missing);
        }
    }
}
