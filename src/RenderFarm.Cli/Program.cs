using System.CommandLine;
using RenderFarm.Cli.Commands;

var root = new RootCommand("RenderFarm: render glTF scenes on Vulkan compute devices, alone or as a farm.")
{
    RenderCommand.Create(),
    JobCommands.CreateList(),
    JobCommands.CreateJob(),
    InferCommand.Create(),
    DemoCommand.Create(),
    DevicesCommand.Create(),
    BenchCommand.Create(),
    CoordinatorCommand.Create(),
    WorkerCommand.Create(),
    StakeCommand.Create(),
};

// Without a termination timeout System.CommandLine does not listen for Ctrl-C or SIGTERM, and the
// commands' cancellation tokens never fire. Thirty seconds leaves a worker time to stop its render
// and hand its lease back before the process is ended anyway.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(30) });
