using Microsoft.Extensions.Configuration;
using Npgsql;
using RenderFarm.Core;

namespace RenderFarm.Coordinator.Tests;

/// <summary>The coordinator's PostgreSQL pools are sized explicitly.</summary>
public sealed class ConnectionBudgetFacts
{
    private const string Database = "Host=db;Username=renderfarm;Password=secret;Database=renderfarm";

    // Guards the connection budget: both pools were left at Npgsql's default of 100 each, more than PostgreSQL's default
    // max_connections of 100 on its own.
    [Fact]
    public void Each_pool_gets_its_size_and_an_application_name()
    {
        (string farm, string hangfire) = ConnectionBudget.Apply(Database, Configuration(new() { ["Postgres:HangfirePoolSize"] = "25" }));

        var farmBuilder = new NpgsqlConnectionStringBuilder(farm);
        var hangfireBuilder = new NpgsqlConnectionStringBuilder(hangfire);
        Assert.Equal(ConnectionBudget.DefaultFarmStorePoolSize, farmBuilder.MaxPoolSize);
        Assert.Equal("renderfarm-farm", farmBuilder.ApplicationName);
        Assert.Equal(25, hangfireBuilder.MaxPoolSize);
        Assert.Equal("renderfarm-hangfire", hangfireBuilder.ApplicationName);
        Assert.Equal("secret", hangfireBuilder.Password);
    }

    [Theory]
    [InlineData("1")]
    [InlineData("100000")]
    [InlineData("-5")]
    [InlineData("ten")]
    public void A_pool_size_out_of_range_is_refused_in_one_line(string size)
    {
        UserInputException refused = Assert.Throws<UserInputException>(() => ConnectionBudget.Apply(Database, Configuration(new() { ["Postgres:FarmStorePoolSize"] = size })));

        Assert.Contains("Postgres:FarmStorePoolSize", refused.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', refused.Message);
    }

    private static IConfiguration Configuration(Dictionary<string, string?> settings) =>
        new ConfigurationBuilder().AddInMemoryCollection(settings).Build();
}
