using AspireAi.Migrator;

// One-shot: brings the database to the current schema and seeds the first administrator, then exits.
// The AppHost starts Api and Workers only after this has exited with 0 (WaitForCompletion).
var builder = Host.CreateApplicationBuilder(args);
builder.AddServiceDefaults();
builder.AddMigrations();

var host = builder.Build();
await host.RunAsync();
return Environment.ExitCode;
