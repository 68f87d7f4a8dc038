using Aspire.Hosting;
using Aspire.Hosting.ApplicationModel;
using Aspire.Hosting.Testing;
using AspireAi.ServiceDefaults;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Reliability;

/// <summary>The AppHost's app model with replicas (built, not started: running it is the end-to-end tests' job).</summary>
public sealed class ReplicaModelTests
{
    [Fact]
    public async Task Api_and_workers_replicas_run_behind_the_proxy_on_their_ports()
    {
        var (apiPort, workersPort) = (LocalServers.NativeProcess.FreeTcpPort(), LocalServers.NativeProcess.FreeTcpPort());
        await using var builder = await DistributedApplicationTestingBuilder.CreateAsync<Projects.AspireAi_AppHost>(
        [
            $"--AppHost:DataDirectory={TestServers.TempDirectory("replicas")}",
            $"--AppHost:ApiPort={apiPort}",
            $"--AppHost:WorkersPort={workersPort}",
            "--api-replicas", "2",
            "--workers-replicas", "3",
        ]);

        var api = Project(builder, ResourceNames.Api);
        var workers = Project(builder, ResourceNames.Workers);
        var web = Project(builder, ResourceNames.Web);

        Assert.Equal(2, Replicas(api));
        Assert.Equal(3, Replicas(workers));
        Assert.Equal(1, Replicas(web));
        Assert.Equal((apiPort, true, (int?)null), Http(api));
        Assert.Equal((workersPort, true, (int?)null), Http(workers));
        // One instance keeps its own fixed port, outside the proxy.
        Assert.False(Http(web).Proxied);
    }

    private static ProjectResource Project(IDistributedApplicationTestingBuilder builder, string name) =>
        builder.Resources.OfType<ProjectResource>().Single(r => r.Name == name);

    private static int Replicas(ProjectResource project) =>
        project.Annotations.OfType<ReplicaAnnotation>().LastOrDefault()?.Replicas ?? 1;

    private static (int? Port, bool Proxied, int? TargetPort) Http(ProjectResource project)
    {
        var endpoint = project.Annotations.OfType<EndpointAnnotation>().Single(e => e.Name == "http");
        return (endpoint.Port, endpoint.IsProxied, endpoint.TargetPort);
    }
}
