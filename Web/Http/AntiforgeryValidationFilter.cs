using Microsoft.AspNetCore.Antiforgery;

namespace AspireAi.Web.Http;

// Web's own POST endpoints are called by its pages with the user's cookie, so they need a CSRF check.
// Minimal APIs validate antiforgery automatically only for form parameters; the chat proxy takes JSON,
// with the token in the RequestVerificationToken header (see chat.js), so the check is explicit here.
internal sealed class AntiforgeryValidationFilter(IAntiforgery antiforgery) : IEndpointFilter
{
    public const string HeaderName = "RequestVerificationToken";

    public async ValueTask<object?> InvokeAsync(EndpointFilterInvocationContext context, EndpointFilterDelegate next)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(next);

        if (!await antiforgery.IsRequestValidAsync(context.HttpContext).ConfigureAwait(false))
        {
            return TypedResults.Problem(
                statusCode: StatusCodes.Status400BadRequest,
                title: "The antiforgery token is missing or invalid.",
                detail: "Reload the page and try again.");
        }

        return await next(context).ConfigureAwait(false);
    }
}
