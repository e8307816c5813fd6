using System.Globalization;
using Hangfire;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Routing;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RenderFarm.Coordinator.Api;
using RenderFarm.Coordinator.Auth;
using RenderFarm.Coordinator.Leasing;
using RenderFarm.Core.Farm;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Core.Ledger;
using RenderFarm.Core.Storage;
using RenderFarm.Ledger;
using RenderFarm.Storage;

namespace RenderFarm.Coordinator;

/// <summary>Maps the coordinator's endpoints and middleware onto a web application.</summary>
public static partial class CoordinatorApplicationExtensions
{
    private const string ProviderItem = "RenderFarm.Provider";

    /// <summary>
    /// Adds problem-details error handling, <c>/health</c>, <c>/openapi/v1.json</c>, the Hangfire
    /// dashboard at <c>/hangfire</c>, the client and provider APIs under <c>/api</c>, and
    /// <c>/objects/{key}</c> for presigned URLs of a local-directory object store.
    /// </summary>
    /// <param name="app">An application whose services came from <see cref="CoordinatorServiceCollectionExtensions.AddRenderFarmCoordinator(Microsoft.Extensions.DependencyInjection.IServiceCollection, Microsoft.Extensions.Configuration.IConfiguration, CoordinatorBackends)"/>.</param>
    /// <returns>The application.</returns>
    public static WebApplication MapRenderFarmCoordinator(this WebApplication app)
    {
        ArgumentNullException.ThrowIfNull(app);
        CoordinatorOptions options = app.Services.GetRequiredService<IOptions<CoordinatorOptions>>().Value;
        Web.WebApp.MapRenderFarmWeb(app);
        app.UseExceptionHandler();
        app.UseStatusCodePages(CoordinatorExceptionHandler.WriteStatusProblemAsync);
        AdmissionControl.Use(app);
        app.MapOpenApi();
        app.MapHealthChecks("/health");
        app.MapHangfireDashboard(
            "/hangfire",
            new DashboardOptions
            {
                DashboardTitle = "RenderFarm",
                DisplayStorageConnectionString = false,
                Authorization = [new OperatorDashboardAuthorization(app.Environment.IsDevelopment(), options.OperatorKey)],
            },
            app.Services.GetRequiredService<JobStorage>());

        ClientAuthentication.Use(app);
        MapClientSignIn(app.MapGroup("/api").WithTags("Clients"));
        MapClientApi(app.MapGroup("/api").WithTags("Clients").WithMetadata(ClientAuthentication.Required));
        MapProviderApi(app.MapGroup("/api").WithTags("Providers"));
        MapObjects(app);
        app.Lifetime.ApplicationStarted.Register(() => SetPublicBaseUrl(app, options));
        return app;
    }

    private static void MapClientSignIn(RouteGroupBuilder api)
    {
        api.MapPost("/clients/challenge", (ChallengeRequest request, ClientAuthenticator auth) => auth.CreateChallenge(request))
            .WithSummary("A single-use message to sign with the client's Ethereum key (EIP-191).");

        api.MapPost("/clients/login", (LoginRequest request, HttpContext context, ClientAuthenticator auth, CancellationToken cancellationToken) =>
        {
            ProviderRateLimits.CheckLoginAddress(context, "client");
            return auth.LoginAsync(request, cancellationToken);
        })
            .WithSummary("Exchanges a signed challenge for a client bearer token.");

        // Public: the chain and contract addresses, which providers staking need as much as clients paying.
        api.MapGet("/ledger", (IServiceProvider services) => services.GetService<ILedger>() switch
        {
            EvmLedger evm => new LedgerInfo("evm", evm.ChainId, evm.EscrowAddress, evm.TokenAddress),
            null => new LedgerInfo("none"),
            _ => new LedgerInfo("offline"),
        }).WithSummary("Where paid jobs lock their budget: the escrow contract's chain and address.");
    }

    // Every endpoint here is authenticated (ClientAuthentication) and sees only its caller's uploads and jobs.
    private static void MapClientApi(RouteGroupBuilder api)
    {
        api.MapPost("/scenes", async (HttpRequest request, string? name, ClientIdentity caller, Uploads uploads, CancellationToken cancellationToken) =>
        {
            SceneUploaded scene = await uploads.UploadSceneAsync(request, name, caller.RequireAccount(), cancellationToken);
            return TypedResults.Created($"/api/scenes/{scene.Sha256}", scene);
        })
            .Accepts<Stream>("application/octet-stream", "model/gltf-binary", "model/gltf+json")
            .WithSummary("Uploads a glTF scene (raw body, streamed); stored under its SHA-256, named for the caller's account.");

        api.MapPost("/environments", async (HttpRequest request, string? name, ClientIdentity caller, Uploads uploads, CancellationToken cancellationToken) =>
        {
            EnvironmentUploaded map = await uploads.UploadEnvironmentAsync(request, name, caller.RequireAccount(), cancellationToken);
            return TypedResults.Created($"/api/environments/{map.Sha256}", map);
        })
            .Accepts<Stream>("application/octet-stream")
            .WithSummary("Uploads an equirectangular environment map (Radiance .hdr or OpenEXR, raw body) a render job may name.");

        api.MapPost("/models", async (HttpRequest request, string? name, ClientIdentity caller, Uploads uploads, CancellationToken cancellationToken) =>
        {
            ModelUploaded model = await uploads.UploadModelAsync(request, name, caller.RequireAccount(), cancellationToken);
            return TypedResults.Created($"/api/models/{model.Sha256}", model);
        })
            .Accepts<Stream>("application/octet-stream")
            .WithSummary("Uploads an ONNX model (raw body, streamed); refused with the operator's name when the engine lacks one.");

        api.MapPost("/inputs", async (HttpRequest request, string? name, ClientIdentity caller, Uploads uploads, CancellationToken cancellationToken) =>
        {
            InputUploaded input = await uploads.UploadInputAsync(request, name, caller.RequireAccount(), cancellationToken);
            return TypedResults.Created($"/api/inputs/{input.Sha256}", input);
        })
            .Accepts<Stream>("application/octet-stream")
            .WithSummary("Uploads one batch item's input tensor (.npy, raw body).");

        api.MapPost("/inference-jobs", async (SubmitInferenceJobRequest request, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) =>
        {
            JobSummary job = await jobs.SubmitInferenceAsync(request, caller.RequireAccount(), cancellationToken);
            return TypedResults.Created($"/api/jobs/{job.Id}", job);
        }).WithSummary("Submits a batch-inference job: the model run once per input.");

        api.MapGet("/jobs/{id:guid}/outputs/{item:int}", async (Guid id, int item, ClientIdentity caller, JobService jobs, IFarmStore store, CancellationToken cancellationToken) =>
        {
            // OpenFrameAsync checks the caller's claim on the job first; the record then names the outputs' format.
            Stream output = await jobs.OpenFrameAsync(id, item, caller, cancellationToken);
            JobRecord job = (await store.GetJobAsync(id, cancellationToken))!;
            return TypedResults.Stream(output, "application/octet-stream", string.Create(CultureInfo.InvariantCulture, $"{item:D6}{FarmKeys.OutputExtension(job.Spec)}"));
        })
            .WithSummary("One verified output of an inference job (.npy for a model with one output, .npz of every output otherwise).");

        api.MapPost("/jobs", async (SubmitJobRequest request, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) =>
        {
            JobSummary job = await jobs.SubmitAsync(request, caller.RequireAccount(), cancellationToken);
            return TypedResults.Created($"/api/jobs/{job.Id}", job);
        }).WithSummary("Submits a render job.");

        api.MapGet("/jobs", (ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) => jobs.ListAsync(caller, cancellationToken))
            .WithSummary("Lists the caller's newest jobs (every account's, for the operator).");

        api.MapGet("/jobs/{id:guid}", (Guid id, HttpRequest request, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) =>
            jobs.GetAsync(id, caller, new Uri($"{request.Scheme}://{request.Host}{request.PathBase}/"), cancellationToken))
            .WithSummary("A job with its tasks and finished frames.");

        api.MapPost("/jobs/{id:guid}/escrow", (Guid id, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) => jobs.ConfirmEscrowAsync(id, caller, cancellationToken))
            .WithSummary("Starts a paid job once its owner has locked its budget in the job's escrow on the ledger.");

        api.MapPost("/jobs/{id:guid}/cancel", (Guid id, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) => jobs.CancelAsync(id, caller, cancellationToken))
            .WithSummary("Cancels a job; leased tasks' completions are refused.");

        api.MapPost("/jobs/{id:guid}/pause", (Guid id, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) => jobs.SetPausedAsync(id, true, caller, cancellationToken))
            .WithSummary("Pauses a job: its queued tasks are not leased until it is resumed; leased tasks finish normally.");

        api.MapPost("/jobs/{id:guid}/resume", (Guid id, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) => jobs.SetPausedAsync(id, false, caller, cancellationToken))
            .WithSummary("Resumes a paused job: its queued tasks may be leased again.");

        api.MapPost("/jobs/{id:guid}/requeue-failed", (Guid id, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) => jobs.RequeueFailedAsync(id, caller, cancellationToken))
            .WithSummary("Requeues a failed job's failed tasks in place: attempts reset, the job runs again; verified frames stay.");

        api.MapPost("/jobs/{id:guid}/requeue", async (Guid id, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) =>
        {
            JobSummary job = await jobs.RequeueAsync(id, caller, cancellationToken);
            return TypedResults.Created($"/api/jobs/{job.Id}", job);
        }).WithSummary("Submits the frames a failed or cancelled job did not finish as a new job with the same scene and settings.");

        api.MapGet("/jobs/{id:guid}/frames/{frame:int}", async (Guid id, int frame, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) =>
        {
            (Stream content, string contentType, string fileName) = await jobs.OpenFrameFileAsync(id, frame, caller, cancellationToken);
            return TypedResults.Stream(content, contentType, fileName);
        })
            .Produces(StatusCodes.Status200OK, typeof(Stream), "image/png", "image/x-exr")
            .WithSummary("Downloads a finished frame: frame_NNNN.png, or frame_NNNN.exr (linear, with AOVs) for an EXR job.");

        api.MapGet("/jobs/{id:guid}/frames.zip", async (Guid id, HttpContext context, ClientIdentity caller, JobService jobs, CancellationToken cancellationToken) =>
        {
            var frames = await jobs.GetFinishedFramesAsync(id, caller, cancellationToken);
            context.Response.ContentType = "application/zip";
            context.Response.Headers.ContentDisposition = $"attachment; filename=\"{id:N}-frames.zip\"";

            // ZipArchive writes each entry's data descriptor synchronously when the entry stream
            // closes, even from DisposeAsync (.NET 10); those are the only synchronous writes.
            if (context.Features.Get<IHttpBodyControlFeature>() is { } bodyControl)
            {
                bodyControl.AllowSynchronousIO = true;
            }

            await jobs.WriteZipAsync(frames, context.Response.Body, cancellationToken);
        })
            .Produces(StatusCodes.Status200OK, contentType: "application/zip")
            .WithSummary("Downloads every finished frame as a zip, streamed.");

        api.MapPost("/keys", async (CreateApiKeyRequest? request, ClientIdentity caller, ClientAuthenticator auth, CancellationToken cancellationToken) =>
        {
            ApiKeyIssued key = await auth.IssueApiKeyAsync(caller, request?.Account, cancellationToken);
            return TypedResults.Created($"/api/keys/{key.Id}", key);
        }).WithSummary("Issues an API key for an account (the operator: any; a signed-in account: itself); the key is shown once.");

        api.MapDelete("/keys/{id}", async (string id, ClientIdentity caller, ClientAuthenticator auth, CancellationToken cancellationToken) =>
        {
            await auth.RevokeApiKeyAsync(caller, id, cancellationToken);
            return TypedResults.NoContent();
        }).WithSummary("Revokes an API key of the caller's account (any, for the operator).");
    }

    private static void MapProviderApi(RouteGroupBuilder api)
    {
        api.MapPost("/providers/challenge", (ChallengeRequest request, ProviderAuthenticator auth) => auth.CreateChallenge(request))
            .WithSummary("A single-use message to sign with the provider's Ethereum key (EIP-191).");

        api.MapPost("/providers/login", async (LoginRequest request, HttpContext context, ProviderAuthenticator auth, LeaseService leases, CancellationToken cancellationToken) =>
        {
            ProviderRateLimits.CheckLoginAddress(context);
            LoginResponse response = await auth.LoginAsync(request, cancellationToken);
            string provider = auth.Authenticate($"Bearer {response.Token}");
            ProviderRateLimits.CheckLoginOf(context, provider);
            leases.TouchProvider(provider);
            return response;
        }).WithSummary("Exchanges a signed challenge for a bearer token.");

        RouteGroupBuilder leases = api.MapGroup("/leases").AddEndpointFilter(async (context, next) =>
        {
            HttpContext http = context.HttpContext;
            using (LeasePathProfile.Start("request: provider token check"))
            {
                http.Items[ProviderItem] = http.RequestServices.GetRequiredService<ProviderAuthenticator>().Authenticate(http.Request.Headers.Authorization);
            }

            return await next(context);
        });

        leases.MapPost("/", async Task<IResult> (LeaseRequest request, HttpContext context, LeaseService service) =>
        {
            (LeaseGrant? grant, string? notLeased) = await service.LeaseOrSayWhyAsync(Provider(context), request, context.RequestAborted);
            if (grant is null && notLeased is not null)
            {
                // A header value is one line of visible ASCII: a scene's name may hold anything else.
                context.Response.Headers[LeaseDevice.RefusalHeader] = new string([.. notLeased.Take(500).Select(c => c is >= ' ' and <= '~' ? c : '?')]);
            }

            return grant is null ? TypedResults.NoContent() : TypedResults.Ok(grant);
        })
            .Produces<LeaseGrant>()
            .Produces(StatusCodes.Status204NoContent)
            .WithSummary("Long-polls for a task (up to waitSeconds) and leases it.")
            .WithDescription(
                "With device (maxStorageBufferRange, deviceLocalMemoryBytes; each 0..2^50, the range at least 1), render tasks whose scene that "
                + "device cannot hold are left for other providers; a 204 then says why in the X-RenderFarm-Not-Leased header.");

        leases.MapPost("/{leaseId}/heartbeat", (string leaseId, HttpContext context, LeaseService service) =>
            service.HeartbeatAsync(Provider(context), leaseId, context.RequestAborted))
            .WithSummary("Extends a lease; 409 when it was lost.");

        leases.MapPost("/{leaseId}/complete", async (string leaseId, CompleteRequest request, HttpContext context, LeaseService service) =>
        {
            using (LeasePathProfile.Start("complete: whole call"))
            {
                await service.CompleteAsync(Provider(context), leaseId, request, context.Connection.RemoteIpAddress?.ToString(), context.RequestAborted);
            }

            return TypedResults.Ok();
        }).WithSummary("Reports a task done; every upload's size and SHA-256 are checked first.");

        leases.MapPost("/{leaseId}/fail", async (string leaseId, FailRequest request, HttpContext context, LeaseService service) =>
        {
            ProviderRateLimits.CheckFailure(context, Provider(context));
            await service.FailAsync(Provider(context), leaseId, request, context.Connection.RemoteIpAddress?.ToString(), context.RequestAborted);
            return TypedResults.Ok();
        }).WithSummary("Reports a task failed on this provider.");

        leases.MapDelete("/{leaseId}", async (string leaseId, HttpContext context, LeaseService service) =>
        {
            await service.HandBackAsync(Provider(context), leaseId, context.RequestAborted);
            return TypedResults.Ok();
        }).WithSummary("Hands a task back without counting a failure.");
    }

    private static void MapObjects(WebApplication app)
    {
        RouteGroupBuilder objects = app.MapGroup("/objects").WithTags("Objects").ExcludeFromDescription();
        objects.MapGet("/{**key}", async (string key, HttpContext context, IObjectStore store, TimeProvider time) =>
        {
            LocalDirectoryObjectStore local = Authorize(store, key, context, time);
            Stream stream = await local.OpenReadAsync(key, context.RequestAborted);
            return TypedResults.Stream(stream, key.EndsWith(".png", StringComparison.Ordinal) ? "image/png" : "application/octet-stream");
        });

        objects.MapPut("/{**key}", async (string key, HttpContext context, IObjectStore store, TimeProvider time, IOptions<CoordinatorOptions> options) =>
        {
            LocalDirectoryObjectStore local = Authorize(store, key, context, time);
            long limit = options.Value.MaxObjectBytes;
            if (context.Request.ContentLength > limit)
            {
                throw new CoordinatorException(413, $"The object is {context.Request.ContentLength} bytes; the most accepted is {limit}.");
            }

            // Kestrel enforces the limit while the body streams in (413 past it).
            if (context.Features.Get<IHttpMaxRequestBodySizeFeature>() is { IsReadOnly: false } sizeFeature)
            {
                sizeFeature.MaxRequestBodySize = limit;
            }

            await local.PutAsync(key, context.Request.Body, context.RequestAborted);
            return TypedResults.Ok();
        });
    }

    private static LocalDirectoryObjectStore Authorize(IObjectStore store, string key, HttpContext context, TimeProvider time)
    {
        if (store is not LocalDirectoryObjectStore local)
        {
            throw new CoordinatorException(404, "This coordinator's objects live in an S3-compatible store, not here.");
        }

        IQueryCollection query = context.Request.Query;
        if (!long.TryParse(query["expires"], out long expires)
            || !local.IsAuthorized(key, context.Request.Method, expires, query["signature"].ToString(), time.GetUtcNow()))
        {
            throw new CoordinatorException(403, $"The URL does not allow {context.Request.Method} on '{key}': its signature is wrong or it has expired.");
        }

        return local;
    }

    private static string Provider(HttpContext context) => (string)context.Items[ProviderItem]!;

    private static void SetPublicBaseUrl(WebApplication app, CoordinatorOptions options)
    {
        if (app.Services.GetRequiredService<IObjectStore>() is not LocalDirectoryObjectStore local || HasPublicBaseUrl(local))
        {
            return;
        }

        Uri? url = options.PublicUrl;
        if (url is null)
        {
            string? bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault();
            if (bound is null)
            {
                return;
            }

            // A wildcard binding names no host a provider could reach; loopback is right for the embedded farm.
            var builder = new UriBuilder(bound.Replace("://+", "://localhost", StringComparison.Ordinal).Replace("://*", "://localhost", StringComparison.Ordinal));
            if (builder.Host is "0.0.0.0" or "[::]")
            {
                builder.Host = "localhost";
                LogWildcard(app.Logger, bound);
            }

            url = builder.Uri;
        }

        local.PublicBaseUrl = url;
    }

    private static bool HasPublicBaseUrl(LocalDirectoryObjectStore store)
    {
        try
        {
            return store.PublicBaseUrl is not null;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Presigned object URLs use localhost for the wildcard binding {Address}; set Coordinator:PublicUrl so providers on other machines can reach them.")]
    private static partial void LogWildcard(ILogger logger, string address);
}
