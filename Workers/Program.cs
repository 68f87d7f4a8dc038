using AspireAi.Workers.Extensions;

// Workers is a worker host with a small HTTP surface of its own: /health and /alive for the orchestrator.
var builder = WebApplication.CreateBuilder(args);

builder.AddServiceDefaults();
builder.AddWorkerServices();

var app = builder.Build();

app.MapDefaultEndpoints();

app.Run();
