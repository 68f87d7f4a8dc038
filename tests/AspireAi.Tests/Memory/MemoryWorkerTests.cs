using AspireAi.Core.Data;
using AspireAi.Core.Memory;
using AspireAi.Core.Redis;
using AspireAi.ServiceDefaults;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;
using AspireAi.Workers.Jobs;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using AspireAi.Workers.Memory;

namespace AspireAi.Tests.Memory;

/// <summary>The memory jobs as the Workers host runs them: registered by AddMemoryJobs, claimed by the job worker.</summary>
[Collection(MemoryCollection.Name)]
public sealed class MemoryWorkerTests(ApiFactory factory)
{
    [Fact]
    public async Task A_workers_host_extracts_memories_from_a_chat_exchange_on_its_own()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { EnvironmentName = Environments.Development });
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["ConnectionStrings:postgres"] = factory.Servers.PostgresConnectionString,
            ["ConnectionStrings:redis"] = factory.Servers.RedisConnectionString,
            ["Encryption:MasterKey"] = TestServers.EncryptionMasterKey,
            ["Jobs:PollInterval"] = "00:00:01",
            // Maintenance runs on its schedule; this test is about extraction.
            ["Jobs:Recurring:memory.purge:Enabled"] = "false",
            ["Jobs:Recurring:memory.cap-episodic:Enabled"] = "false",
        });
        builder.Services.AddProblemDetails();
        builder.AddDatabase();
        builder.AddRedis();
        builder.AddJobWorkers();
        builder.AddMemoryJobs();
        using var workers = builder.Build();
        await workers.StartAsync();
        try
        {
            var (client, user) = await factory.CreateUserClientAsync();
            await MemoryTestData.ChatAsync(client, await ChatTestData.CreateConversationAsync(client), "I teach chemistry at Riverside High.");

            for (var waited = 0; (await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id)).Count == 0; waited += 100)
            {
                Assert.True(waited < 20_000, "The worker did not extract the memory within 20 s.");
                await Task.Delay(100);
            }
            var memory = Assert.Single(await MemoryTestData.MemoriesAsync(factory.DataSource, user.Id));
            Assert.Equal("Teaches chemistry at Riverside High", memory.Text);
            Assert.Equal(1, await MemoryTestData.CountAsync(factory.DataSource,
                "SELECT count(*) FROM jobs j JOIN memory_sources s ON s.job_id = j.id WHERE s.user_id = $1 AND j.status = 'succeeded' AND s.status = 'done'", user.Id));
        }
        finally
        {
            await workers.StopAsync();
        }
    }
}
