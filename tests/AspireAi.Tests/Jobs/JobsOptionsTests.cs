using AspireAi.Core.Jobs;
using AspireAi.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;

namespace AspireAi.Tests.Jobs;

public sealed class JobsOptionsTests
{
    [Fact]
    public async Task Bad_job_settings_stop_the_start_naming_each_key()
    {
        using var host = JobsTestData.CreateQueueHost("Host=127.0.0.1;Port=1", new Dictionary<string, string?>
        {
            ["Jobs:HeartbeatInterval"] = "00:01:00",
            ["Jobs:BatchTarget"] = "00:00:00",
            ["Jobs:MaxBatchSize"] = "51",
            ["Jobs:Types:memory.extract:BatchSize"] = "51",
            ["Jobs:Types:memory.extract:MaxAttempts"] = "0",
            ["Jobs:Types:Bad Type:MaxQueuedDepth"] = "10",
            ["Jobs:Recurring:sweep:Schedule"] = "*/0 * * * *",
            ["Jobs:Recurring:sweep:Payload"] = "{not json",
        });
        var error = await Assert.ThrowsAsync<OptionsValidationException>(() => host.StartAsync());
        var message = string.Join('\n', error.Failures);
        foreach (var expected in new[]
        {
            "heartbeat must be positive and shorter than the lease", "BatchSize must be between 1 and 50", "BatchTarget must be positive and shorter than the lease",
            "MaxBatchSize must be between 1 and 50", "MaxAttempts must be between 1 and 1000",
            "'Bad Type' is not a valid job type", "Recurring job 'sweep': invalid step '0'", "Recurring job 'sweep': the payload is not valid JSON",
        })
        {
            Assert.Contains(expected, message, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Type_settings_fall_back_to_the_defaults_then_to_the_built_in_values()
    {
        using var host = JobsTestData.CreateQueueHost("Host=127.0.0.1;Port=1", new Dictionary<string, string?>
        {
            ["Jobs:Defaults:MaxAttempts"] = "8",
            ["Jobs:Types:memory.extract:MaxAttempts"] = "3",
            ["Jobs:Types:memory.extract:MaxQueuedDepth"] = "1000",
            ["Jobs:Defaults:BatchSize"] = "1",
            ["Jobs:Types:other:BatchSize"] = "20",
        });
        var options = host.Services.GetRequiredService<IOptions<JobsOptions>>().Value;
        Assert.Equal(new JobTypeSettings(3, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10), null, 1000, TimeSpan.FromSeconds(10), 1), options.For("memory.extract"));
        Assert.Equal(new JobTypeSettings(8, TimeSpan.FromSeconds(5), TimeSpan.FromMinutes(10), null, null, TimeSpan.FromSeconds(10), 20), options.For("other"));
        // No BatchSize anywhere: adaptive (null), sized by the worker within BatchTarget and MaxBatchSize.
        using var defaultHost = JobsTestData.CreateQueueHost("Host=127.0.0.1;Port=1");
        var adaptive = defaultHost.Services.GetRequiredService<IOptions<JobsOptions>>().Value;
        Assert.Null(adaptive.For("memory.extract").BatchSize);
        Assert.Equal((TimeSpan.FromMilliseconds(50), 32), (adaptive.BatchTarget, adaptive.MaxBatchSize));
        Assert.Equal(TimeSpan.FromSeconds(10), options.EffectiveHeartbeatInterval);
    }

    [Fact]
    public async Task A_worker_pool_can_be_dedicated_to_some_job_types()
    {
        var servers = await TestServers.GetAsync();
        var (mine, other) = (JobsTestData.NewType(), JobsTestData.NewType());
        var hosts = await JobsTestData.StartWorkerHostsAsync(servers.PostgresConnectionString, 1, new Dictionary<string, string?>
        {
            ["Jobs:TestHandlers:EffectTypes"] = $"{mine},{other}",
            ["Jobs:HandledTypes:0"] = mine,
        });
        try
        {
            // Both handlers are registered, but only the listed type is run (nor is the built-in jobs.cleanup scheduled).
            Assert.Equal([mine], hosts[0].Services.GetRequiredService<AspireAi.Workers.Jobs.JobHandlerRegistry>().Types);
        }
        finally
        {
            await JobsTestData.StopAsync(hosts);
        }
    }
}
