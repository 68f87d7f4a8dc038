// The tests start real servers through the AppHost's Linux-only launchers.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
