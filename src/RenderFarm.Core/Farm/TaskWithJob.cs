namespace RenderFarm.Core.Farm;

/// <summary>A task read together with its job and one provider's tallies in that job (<see cref="IFarmStore.GetTaskWithJobAsync"/>).</summary>
/// <param name="Task">The task, or null.</param>
/// <param name="Job">Its job, or null.</param>
/// <param name="Tally">The provider's tallies in the job; zeros when none was asked for or it has none.</param>
public sealed record TaskWithJob(TaskRecord? Task, JobRecord? Job, ProviderTally Tally);
