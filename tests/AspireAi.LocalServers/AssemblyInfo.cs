// The servers are driven as Linux processes directly (setpriv, setsid, POSIX signals, /proc), as the Debian machines
// it targets provide them.
[assembly: System.Runtime.Versioning.SupportedOSPlatform("linux")]
