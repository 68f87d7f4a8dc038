namespace AspireAi.Web;

// Names this assembly for WebApplicationFactory in the tests: the test project also references the Api,
// whose generated Program class would otherwise be ambiguous with this one.
public sealed class WebAppMarker
{
    private WebAppMarker()
    {
    }
}
