using System.Collections.Concurrent;
using System.Security.Cryptography;
using RenderFarm.Core;
using RenderFarm.Core.Farm.Protocol;
using RenderFarm.Testing;
using SixLabors.ImageSharp;

namespace RenderFarm.Worker.Tests;

public sealed class WorkerAgentFacts
{
    private static readonly byte[] s_scene = RandomNumberGenerator.GetBytes(4096);

    [Fact]
    public async Task Renders_uploads_and_completes_tasks_fetching_a_shared_scene_once()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        FakeTask first = coordinator.Enqueue(s_scene, 1, 2);
        FakeTask second = coordinator.Enqueue(s_scene, 3, 3);
        var renderer = new FakeRenderer();
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        FakeLease firstLease = await coordinator.WaitForLeaseAsync(first, LeaseState.Completed);
        FakeLease secondLease = await coordinator.WaitForLeaseAsync(second, LeaseState.Completed);

        Assert.Equal(1, coordinator.SceneDownloads(first));
        string sha256 = Convert.ToHexStringLower(SHA256.HashData(s_scene));
        string cachedScene = Path.Combine(run.CacheDirectory, "scenes", sha256 + ".glb");
        Assert.Equal(s_scene, File.ReadAllBytes(cachedScene));
        Assert.Equal([(cachedScene, 1), (cachedScene, 2), (cachedScene, 3)], renderer.Calls);
        foreach (FakeLease lease in new[] { firstLease, secondLease })
        {
            foreach (CompletedFrame frame in lease.Completion!.Frames)
            {
                byte[] png = coordinator.Uploaded(lease.Id, frame.Frame)!;
                Assert.Equal(Convert.ToHexStringLower(SHA256.HashData(png)), frame.Sha256);
                Assert.Equal(png.Length, frame.Size);
                Assert.Equal(8, Image.Identify(png).Width);
            }
        }

        Assert.Equal([1, 2], firstLease.Completion!.Frames.Select(f => f.Frame));
        Assert.Equal(3, run.EventsOf(WorkerEventKind.FrameRendered).Count());
        Assert.Single(run.EventsOf(WorkerEventKind.LoggedIn));
        Assert.Empty(Directory.GetFiles(Path.Combine(run.CacheDirectory, "frames")));
    }

    // Guards the worker against a broken or hostile coordinator: a lease answered with null, wrong JSON types,
    // truncated JSON or an HTML page (or a heartbeat answered without its members) made the agent throw and the
    // worker process exit. Each is now one line, a back-off and a retry.
    [Fact]
    public async Task Malformed_answers_are_failed_calls_retried_and_the_agent_goes_on()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        string[] leaseAnswers = ["null", "{\"leaseId\": 5, \"jobId\": [], \"taskIndex\": \"x\"}", "{\"leaseId\":\"0a1b", "<html><body>502 Bad Gateway</body></html>"];
        coordinator.AnswerNextWith("/api/leases", leaseAnswers);
        coordinator.AnswerNextWith("/heartbeat", "{}", "{\"leaseExpiresAt\": null}");
        FakeTask task = coordinator.Enqueue(s_scene, 1, 1);
        var renderer = new FakeRenderer { Delay = TimeSpan.FromSeconds(3.5) };
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        FakeLease lease = await coordinator.WaitForLeaseAsync(task, LeaseState.Completed);

        Assert.False(run.Running.IsCompleted);
        Assert.True(lease.Heartbeats >= 1, "A heartbeat after the malformed ones reached the coordinator.");
        WorkerEvent[] retries = [.. run.EventsOf(WorkerEventKind.Retrying)];
        Assert.Equal(leaseAnswers.Length + 2, retries.Count(e => e.Message.Contains("not the expected JSON", StringComparison.Ordinal)));
        Assert.All(retries, e => Assert.DoesNotContain('\n', e.Message));
    }

    [Fact]
    public async Task Sends_heartbeats_while_a_frame_renders()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        FakeTask task = coordinator.Enqueue(s_scene, 1, 1);
        var renderer = new FakeRenderer { Delay = TimeSpan.FromSeconds(2.5) };
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        FakeLease lease = await coordinator.WaitForLeaseAsync(task, LeaseState.Completed);

        Assert.InRange(lease.Heartbeats, 2, 3);
    }

    [Fact]
    public async Task A_lost_lease_cancels_the_render_and_the_agent_goes_on()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        FakeTask lost = coordinator.Enqueue(s_scene, 1, 1);
        FakeTask next = coordinator.Enqueue(s_scene, 2, 2);
        var renderer = new FakeRenderer { Delay = TimeSpan.FromSeconds(30), SlowCalls = 1 };
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        await renderer.Started.WaitAsync(TimeSpan.FromSeconds(10));
        coordinator.LoseLease(coordinator.LeaseOf(lost)!.Id);
        await coordinator.WaitForLeaseAsync(next, LeaseState.Completed);

        Assert.Equal(1, renderer.Cancellations);
        Assert.Equal(LeaseState.Lost, coordinator.LeaseOf(lost)!.State);
        Assert.Null(coordinator.Uploaded(coordinator.LeaseOf(lost)!.Id, 1));
        WorkerEvent lostEvent = Assert.Single(run.EventsOf(WorkerEventKind.LeaseLost));
        Assert.Equal(coordinator.LeaseOf(lost)!.Id, lostEvent.LeaseId);
    }

    [Fact]
    public async Task Stopping_during_a_render_hands_the_lease_back_and_returns()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        FakeTask task = coordinator.Enqueue(s_scene, 1, 4);
        var renderer = new FakeRenderer { Delay = TimeSpan.FromSeconds(30) };
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        await renderer.Started.WaitAsync(TimeSpan.FromSeconds(10));
        await run.StopAsync();

        Assert.Equal(LeaseState.HandedBack, coordinator.LeaseOf(task)!.State);
        Assert.Equal(1, renderer.Cancellations);
        Assert.Single(run.EventsOf(WorkerEventKind.HandedBack));
        Assert.True(run.Running.IsCompletedSuccessfully);
    }

    [Fact]
    public async Task Waits_out_a_coordinator_that_is_down_at_start()
    {
        int port = LoopbackPort.Free();
        var renderer = new FakeRenderer();
        await using var run = new AgentRun(new Uri($"http://127.0.0.1:{port}/"), renderer);
        await FakeCoordinator.WaitUntilAsync(() => run.EventsOf(WorkerEventKind.Retrying).Count() >= 2);

        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync(port);
        FakeTask task = coordinator.Enqueue(s_scene, 1, 1);
        await coordinator.WaitForLeaseAsync(task, LeaseState.Completed);

        Assert.Contains(run.EventsOf(WorkerEventKind.Retrying), e => e.Message.Contains("/api/providers/challenge", StringComparison.Ordinal));
    }

    [Fact]
    public async Task A_scene_that_does_not_match_its_hash_fails_the_task_and_the_agent_goes_on()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        FakeTask corrupt = coordinator.Enqueue(s_scene, 1, 1, advertisedSha256: new string('0', 64));
        FakeTask good = coordinator.Enqueue(s_scene, 1, 1);
        var renderer = new FakeRenderer();
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        FakeLease failed = await coordinator.WaitForLeaseAsync(corrupt, LeaseState.Failed);
        await coordinator.WaitForLeaseAsync(good, LeaseState.Completed);

        Assert.Contains("SHA-256", failed.FailureReason, StringComparison.Ordinal);
        Assert.Contains(new string('0', 64), failed.FailureReason, StringComparison.Ordinal);
        Assert.Single(renderer.Calls);
        Assert.False(File.Exists(Path.Combine(run.CacheDirectory, "scenes", new string('0', 64) + ".glb")));
    }

    [Fact]
    public async Task A_scene_the_renderer_rejects_fails_the_task_with_its_message()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        FakeTask broken = coordinator.Enqueue(s_scene, 1, 1);
        FakeTask good = coordinator.Enqueue(s_scene, 2, 2);
        var renderer = new FakeRenderer { FirstCallThrows = new UserInputException("'scene.glb' is not a valid glTF file: bad magic.") };
        await using var run = new AgentRun(coordinator.BaseAddress, renderer);

        FakeLease failed = await coordinator.WaitForLeaseAsync(broken, LeaseState.Failed);
        await coordinator.WaitForLeaseAsync(good, LeaseState.Completed);

        Assert.Equal("'scene.glb' is not a valid glTF file: bad magic.", failed.FailureReason);
        Assert.Single(run.EventsOf(WorkerEventKind.Failed));
    }

    [Fact]
    [Trait("Category", "Gpu")]
    public async Task Renders_the_cornell_box_on_Vulkan_through_the_coordinator()
    {
        await using FakeCoordinator coordinator = await FakeCoordinator.StartAsync();
        byte[] scene = File.ReadAllBytes(RepositoryPaths.Combine("samples/cornell-box/cornell-box.glb"));
        var settings = new RenderSettings { Size = new ImageSize(16, 16), SamplesPerPixel = 1, Seed = 7 };
        FakeTask task = coordinator.Enqueue(scene, 1, 2, settings, "cornell-box.glb");
        DirectoryInfo folder = Directory.CreateTempSubdirectory("renderfarm-gpu-worker-");
        var events = new ConcurrentQueue<WorkerEvent>();
        var options = new WorkerOptions
        {
            // The way the CLI passes it: no trailing slash.
            Coordinator = new Uri(coordinator.BaseAddress.AbsoluteUri.TrimEnd('/')),
            KeyFile = Path.Combine(folder.FullName, "provider.key"),
            CacheDirectory = Path.Combine(folder.FullName, "cache"),
            Name = "gpu-test",
            LeaseWaitSeconds = 1,
        };
        using var stop = new CancellationTokenSource();
        try
        {
            using (var agent = WorkerAgent.Create(options, new QueueProgress(events)))
            {
                Task running = agent.RunAsync(stop.Token);
                FakeLease lease = await coordinator.WaitForLeaseAsync(task, LeaseState.Completed, TimeSpan.FromSeconds(60));
                await stop.CancelAsync();
                await running.WaitAsync(TimeSpan.FromSeconds(15));

                Assert.Equal(2, lease.Completion!.Frames.Count);
                foreach (CompletedFrame frame in lease.Completion.Frames)
                {
                    var info = Image.Identify(coordinator.Uploaded(lease.Id, frame.Frame)!);
                    Assert.Equal((16, 16), (info.Width, info.Height));
                    Assert.True(frame.RenderSeconds > 0);
                }
            }

            Assert.Single(events, e => e.Kind == WorkerEventKind.KeyCreated);
            Assert.Contains(events, e => e.Kind == WorkerEventKind.LoggedIn && e.Message.Contains("gpu-test: ", StringComparison.Ordinal));
            Assert.Equal(256, events.First(e => e.Kind == WorkerEventKind.FrameRendered).Render!.Samples);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private sealed class QueueProgress(ConcurrentQueue<WorkerEvent> events) : IProgress<WorkerEvent>
    {
        public void Report(WorkerEvent value) => events.Enqueue(value);
    }
}
