using System.Diagnostics.CodeAnalysis;

namespace AspireAi.Api;

/// <summary>A type from the Api assembly for <c>WebApplicationFactory&lt;ApiAssemblyMarker&gt;</c> in the tests.</summary>
[SuppressMessage("Performance", "CA1515:Consider making public types internal", Justification = "The test host needs a public type from this assembly.")]
public sealed class ApiAssemblyMarker
{
    private ApiAssemblyMarker() { }
}
