// The harness starts Postgres through the AppHost's Linux-only launcher.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
