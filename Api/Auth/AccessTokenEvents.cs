using System.Security.Claims;
using AspireAi.Core.Identity;
using AspireAi.Core.Identity.Tokens;
using Microsoft.AspNetCore.Authentication.JwtBearer;

namespace AspireAi.Api.Auth;

/// <summary>
/// What JwtBearer cannot know by itself: whether the token's session was ended (sign-out, refresh-token theft) before
/// the token expired, and how this Api answers 401 and 403.
/// </summary>
internal sealed partial class AccessTokenEvents(SessionRevocations revocations, ILogger<AccessTokenEvents> logger) : JwtBearerEvents
{
    public override async Task TokenValidated(TokenValidatedContext context)
    {
        // Signature and lifetime say we issued it; every token we issue also names its user and its session, and one
        // without a session could never be revoked.
        if (context.Principal is not { } principal || !principal.TryGetCurrentUser(out var user) || !AspireAiRoles.IsKnown(user.Role)
            || !Guid.TryParse(principal.FindFirstValue(AspireAiClaims.SessionId), out var session))
        {
            LogTokenRefused("missing or invalid claims");
            context.Fail("missing or invalid claims");
            return;
        }
        // Redis unavailable counts as not revoked (see SessionRevocations).
        if (await revocations.IsRevokedAsync(session, context.HttpContext.RequestAborted))
        {
            LogTokenRefused("session revoked");
            context.Fail("session revoked");
        }
    }

    public override Task Challenge(JwtBearerChallengeContext context)
    {
        // Replaces JwtBearer's own answer, whose error_description would tell a caller why the token failed.
        context.HandleResponse();
        return BearerSchemes.ChallengeAsync(context.HttpContext, invalidCredential: context.AuthenticateFailure is not null);
    }

    public override Task Forbidden(ForbiddenContext context) => BearerSchemes.ForbidAsync(context.HttpContext);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Access token refused: {Reason}")]
    private partial void LogTokenRefused(string reason);
}
