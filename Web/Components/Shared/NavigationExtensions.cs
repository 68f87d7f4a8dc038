using Microsoft.AspNetCore.Components;

namespace AspireAi.Web.Components.Shared;

internal static class NavigationExtensions
{
    // The Api refused the session (refresh token expired or revoked): sign in again, then come back here.
    public static void RedirectToSignIn(this NavigationManager navigation)
    {
        ArgumentNullException.ThrowIfNull(navigation);
        var here = "/" + navigation.ToBaseRelativePath(navigation.Uri);
        navigation.NavigateTo($"signin?returnUrl={Uri.EscapeDataString(here)}");
    }
}
