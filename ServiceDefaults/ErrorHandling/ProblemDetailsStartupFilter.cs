using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;

namespace AspireAi.ServiceDefaults;

// A startup filter wraps the whole pipeline, so every service gets RFC 9457 error bodies without
// remembering two extra lines in Program.cs, and the handlers sit outside any middleware that can throw.
internal sealed class ProblemDetailsStartupFilter : IStartupFilter
{
    public const string TraceIdHeader = "X-Trace-Id";

    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) =>
        app =>
        {
            // Every response names its trace, so a user's bug report leads straight to the trace and the logs.
            // Set when the headers go out: the exception handler clears headers set earlier.
            app.Use(static (context, next) =>
            {
                var traceId = Activity.Current?.TraceId.ToString() ?? context.TraceIdentifier;
                context.Response.OnStarting(() =>
                {
                    context.Response.Headers[TraceIdHeader] = traceId;
                    return Task.CompletedTask;
                });
                return next(context);
            });
            // With AddProblemDetails registered, both write ProblemDetails through IProblemDetailsService;
            // the exception handler never puts the exception text in the body (the Development-only
            // developer exception page, added inside this pipeline, still does for local debugging).
            app.UseExceptionHandler();
            app.UseStatusCodePages();
            next(app);
        };
}
