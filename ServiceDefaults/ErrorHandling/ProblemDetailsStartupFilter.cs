using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;

namespace AspireAi.ServiceDefaults;

// A startup filter wraps the whole pipeline, so every service gets RFC 9457 error bodies without
// remembering two extra lines in Program.cs, and the handlers sit outside any middleware that can throw.
internal sealed class ProblemDetailsStartupFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) =>
        app =>
        {
            // With AddProblemDetails registered, both write ProblemDetails through IProblemDetailsService;
            // the exception handler never puts the exception text in the body (the Development-only
            // developer exception page, added inside this pipeline, still does for local debugging).
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            next(app);
        };
}
