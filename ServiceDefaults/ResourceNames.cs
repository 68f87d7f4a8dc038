namespace AspireAi.ServiceDefaults;

// One spelling of every resource name, shared by the AppHost (which launches and wires them) and the
// services (which find each other through service discovery under these names).
public static class ResourceNames
{
    public const string Postgres = "postgres";
    public const string Redis = "redis";
    public const string Api = "api";
    public const string Workers = "workers";
    public const string Web = "web";
    public const string Migrator = "migrator";
}
