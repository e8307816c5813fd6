namespace RenderFarm.Benchmarks;

/// <summary>
/// End-to-end farm benchmarks. Each command starts its own coordinator (and PostgreSQL, where asked)
/// in this process, so the figures it prints are comparable with each other within one run.
/// </summary>
internal static class Program
{
    private const string Usage = """
        usage: dotnet run -c Release --project bench/RenderFarm.Benchmarks -- COMMAND [options]

          leases    [--providers 16] [--tasks 400] [--job-size 100] [--backend postgres|memory|both] [--wait 20] [--wakeups 5]
                    [--idle 1000] [--split 10000] [--profile] [--chaos SECONDS [--chaos-minutes 3]]
                    simulated providers (no GPU work) lease, upload a small PNG and complete every task; --idle adds N
                    providers long-polling an idle farm (errors, /health, DB connections, wake-up), --split times the
                    split of one job of N tasks, --profile prints where a task's time goes (coordinator stages and, on
                    PostgreSQL, pg_stat_statements), --chaos kills one of two coordinator processes every N seconds
          overhead  [--workers 2] [--frames 8] [--size 64x64] [--spp 4] [--compare-single true]
                    a real job on the embedded farm with in-process Vulkan workers: wall time over pure render time
          check-cost [--workers 2] [--frames 24] [--size 128x128] [--spp 8]
                    the same job with checks off and at the farm's defaults: GPU time of tile and whole-frame checks as a share of render time
          verify    [--width 1920] [--height 1080] [--runs 20]
                    the coordinator's CPU time per verified frame: PNG decode, perceptual hashes, spot-check tiles
          divergence [--scenes cornell,cube] [--spp 64,256] [--size 64] [--frames 4] [--plans 200] [--shares 0.03] [--job 24] [--raw false] [--bounces true] [--generous false]
                    honest renders against a validator on a simulated other conforming device, and cheats: tiles, frames and jobs caught per class
          divergence-profile [--scene cornell|cube] [--size 32] [--counts 16,64,256,1024]
                    per sample count, the distribution of honest per-pixel differences against the simulated other device
          infer     [--model edge|cnn|both] [--batch 8] [--runs 20] [--size 256x256]
                    ONNX models on our Vulkan kernels next to ONNX Runtime (CPU) in the same run: latency, items/s, GFLOP/s, output difference
          infer-divergence [--items 4] [--size 64] [--length 12]
                    every float output of the committed models on this device and on a simulated other conforming device, in units of the verification bound
          denoise   [--scene cornell|cube] [--size 64x64] [--spp 4,16,64] [--reference 256] [--runs 5]
                    relative MSE against a high-sample reference before and after the AOV-guided denoiser, and its time
          cross-device --out DIR [--scenes cornell,cube,dense] [--size 96] [--spp 16]
                    renders the sample scenes tile by tile on this process's Vulkan device into DIR (linear PFM)
          cross-device --compare DIR_A,DIR_B [--scenes ...] [--tolerance 0.02]
                    max/mean abs difference and pixels beyond the verification tolerance between two devices' renders
        """;

    public static async Task<int> Main(string[] args)
    {
        if (args.Length == 0 || args[0] is "-h" or "--help" or "help")
        {
            Console.WriteLine(Usage);
            return args.Length == 0 ? 2 : 0;
        }

        try
        {
            var options = BenchOptions.Parse(args.AsSpan(1));
            int result = args[0] switch
            {
                _ when ChaosBenchmark.IsChild(args[0]) => await ChaosBenchmark.RunChildAsync(options),
                "leases" => await LeaseBenchmark.RunAsync(options),
                LeaseProviders.ChildCommand => await LeaseProviders.RunChildAsync(options),
                "overhead" => await OverheadBenchmark.RunAsync(options),
                "check-cost" => await CheckCostBenchmark.RunAsync(options),
                "verify" => await VerificationBenchmark.RunAsync(options),
                "divergence" => await DivergenceBenchmark.RunAsync(options),
                "divergence-profile" => await DivergenceProfileBenchmark.RunAsync(options),
                "infer" => await InferenceBenchmark.RunAsync(options),
                "infer-divergence" => await InferenceDivergenceBenchmark.RunAsync(options),
                "denoise" => await DenoiseBenchmark.RunAsync(options),
                "cross-device" => await CrossDeviceBenchmark.RunAsync(options),
                _ => throw new ArgumentException($"Unknown command '{args[0]}'."),
            };
            options.ThrowIfUnused();
            return result;
        }
        catch (ArgumentException ex)
        {
            Console.Error.WriteLine(ex.Message);
            Console.Error.WriteLine(Usage);
            return 2;
        }
    }
}
