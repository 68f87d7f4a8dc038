using AspireAi.Bench.Jobs;
using BenchmarkDotNet.Running;

// "jobs": the job-queue load harness (starts its own PostgreSQL); "embed": the local embedding model; "embed-path": a
// question's embedding through an OpenAI-compatible server, layer by layer. Anything else goes to BenchmarkDotNet, e.g.
// `-- --filter *Cron*`.
if (args is ["jobs", .. var rest])
{
    return await JobsLoadHarness.RunAsync(rest);
}
if (args is ["embed", .. var embedArgs])
{
    return await AspireAi.Bench.Embeddings.EmbeddingBenchHarness.RunAsync(embedArgs);
}
if (args is ["embed-path", .. var pathArgs])
{
    return await AspireAi.Bench.Embeddings.QueryEmbeddingPathHarness.RunAsync(pathArgs);
}
if (args is ["memory", .. var memoryArgs])
{
    return await AspireAi.Bench.Memory.MemoryBenchHarness.RunAsync(memoryArgs);
}
BenchmarkSwitcher.FromAssembly(typeof(JobsLoadHarness).Assembly).Run(args);
return 0;
