using RenderFarm.Coordinator.Hosting;
using RenderFarm.Core.Farm;
using RenderFarm.Testing;

namespace RenderFarm.Coordinator.Tests;

/// <summary>Which secrets a coordinator starts with, and the start-up grace of leases that lapsed while none ran.</summary>
public sealed class CoordinatorSecretsFacts
{
    // Guards: outside Development a coordinator with no token signing key started on a random one, and one keyed with
    // docker-compose's published placeholder started too, so anyone could forge a token for any address.
    [Theory]
    [InlineData("Coordinator:TokenSigningKey", "", "is missing")]
    [InlineData("Coordinator:TokenSigningKey", "change-me-to-a-long-random-secret-of-32+-chars", "is a well-known placeholder")]
    [InlineData("Coordinator:SpotCheckSecret", "", "is missing")]
    [InlineData("Coordinator:SpotCheckSecret", "0000000000000000000000000000000000000000", "is a well-known placeholder")]
    [InlineData("Coordinator:OperatorKey", "", "is missing")]
    [InlineData("Coordinator:OperatorKey", "change-me-operator-key", "is a well-known placeholder")]
    [InlineData("Coordinator:OperatorKey", "let-me-in", "must hold at least 16 characters")]
    public async Task Outside_development_an_unusable_secret_stops_the_start_in_one_line(string setting, string value, string problem)
    {
        CoordinatorStartException refused = await Assert.ThrowsAsync<CoordinatorStartException>(
            () => TestFarm.StartAsync(new() { [setting] = value }, environment: "Production"));

        Assert.Contains($"{setting} {problem}", refused.Message, StringComparison.Ordinal);
        Assert.Contains("openssl rand -hex 32", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
    }

    [Fact]
    public async Task Development_starts_without_secrets_and_accepts_a_short_lived_placeholder()
    {
        await using TestFarm farm = await TestFarm.StartAsync(new() { ["Coordinator:TokenSigningKey"] = "change-me-to-a-long-random-secret-of-32+-chars" });

        Assert.NotNull(await farm.LoginAsync());
    }

    // The example file is what people copy: each secret in it must be refused until replaced by a generated one.
    [Fact]
    public void Every_secret_of_the_env_example_must_be_replaced()
    {
        string[] values = [.. File.ReadAllLines(RepositoryPaths.Combine(".env.example"))
            .Select(line => line.Trim())
            .Where(line => line.StartsWith("COORDINATOR_", StringComparison.Ordinal) && line.Contains('=', StringComparison.Ordinal))
            .Select(line => line[(line.IndexOf('=', StringComparison.Ordinal) + 1)..])];

        Assert.Equal(3, values.Length);
        Assert.All(values, value => Assert.True(CoordinatorSecrets.IsPlaceholder(value), $"'{value}' would be accepted."));
        Assert.All(CoordinatorSecrets.Generate().Values, value => Assert.False(CoordinatorSecrets.IsPlaceholder(value!)));
    }

    // Guards: docker-compose.yml shipped a literal TokenSigningKey, which the coordinator accepted.
    [Fact]
    public void Docker_compose_takes_every_secret_from_the_env_file()
    {
        string[] lines = File.ReadAllLines(RepositoryPaths.Combine("docker-compose.yml"));
        Assert.NotEmpty(CoordinatorSecrets.Settings);
        foreach (CoordinatorSecrets.SecretSetting setting in CoordinatorSecrets.Settings)
        {
            string line = Assert.Single(lines, l => l.TrimStart().StartsWith($"{setting.EnvironmentVariable}:", StringComparison.Ordinal));
            Assert.Matches(@":\s*\$\{[A-Z_]+:\?[^}]+\}\s*$", line);
        }
    }

    // Guards: the coordinator honoured any token lifetime its operator set, days or years.
    [Fact]
    public async Task A_token_lifetime_over_a_day_is_refused()
    {
        CoordinatorStartException refused = await Assert.ThrowsAsync<CoordinatorStartException>(
            () => TestFarm.StartAsync(new() { ["Coordinator:TokenLifetime"] = "1.00:00:01" }));

        Assert.Contains("Coordinator:TokenLifetime must be at most", refused.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Only_lapsed_leases_are_extended_at_start_up()
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        DateTimeOffset until = now + TimeSpan.FromMinutes(1);
        var live = new TaskRecord { JobId = Guid.NewGuid(), Index = 0, FirstFrame = 1, LastFrame = 1, State = FarmTaskState.Leased, LeaseExpiresAt = now.AddSeconds(5) };
        TaskRecord lapsed = live with { LeaseExpiresAt = now.AddSeconds(-30) };
        TaskRecord queued = live with { State = FarmTaskState.Queued, LeaseExpiresAt = null };

        Assert.Null(LapsedLeaseGrace.Extend(live, now, until));
        Assert.Null(LapsedLeaseGrace.Extend(queued, now, until));
        Assert.Equal(until, LapsedLeaseGrace.Extend(lapsed, now, until)!.LeaseExpiresAt);
    }
}
