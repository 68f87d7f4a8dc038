// The harness starts PostgreSQL through the AppHost's Linux-only launcher.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
