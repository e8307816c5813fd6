using System.CommandLine;
using RenderFarm.Cli.Commands;

var root = new RootCommand("RenderFarm: render glTF scenes on Vulkan compute devices.")
{
    RenderCommand.Create(),
    DevicesCommand.Create(),
    BenchCommand.Create(),
    WorkerCommand.Create(),
    CoordinatorCommand.Create(),
    DemoCommand.Create(),
};
return await root.Parse(args).InvokeAsync();
