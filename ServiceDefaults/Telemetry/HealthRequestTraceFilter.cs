using System.Diagnostics;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http.Features;

namespace AspireAi.ServiceDefaults;

// The orchestrator polls /health and /alive every few seconds; tracing them buries real requests.
// The hosting activity is created before any middleware runs, so it cannot be filtered by a sampler that
// knows the path; un-recording it here, first in the pipeline, makes the SDK skip it when it stops and
// makes any child activity (a health check querying Postgres) unsampled through the parent-based sampler.
internal sealed class HealthRequestTraceFilter : IStartupFilter
{
    public Action<IApplicationBuilder> Configure(Action<IApplicationBuilder> next) =>
        app =>
        {
            app.Use(static (context, nextMiddleware) =>
            {
                if (HealthEndpoints.IsHealthRequest(context.Request.Path)
                    && context.Features.Get<IHttpActivityFeature>()?.Activity is { } activity)
                {
                    activity.IsAllDataRequested = false;
                    activity.ActivityTraceFlags &= ~ActivityTraceFlags.Recorded;
                }

                return nextMiddleware(context);
            });
            next(app);
        };
}
