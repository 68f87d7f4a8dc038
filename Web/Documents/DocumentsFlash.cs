using System.Security.Cryptography;
using System.Text.Json;
using AspireAi.Web.ApiClients;
using AspireAi.Web.Http;
using Microsoft.AspNetCore.DataProtection;

namespace AspireAi.Web.Documents;

// Why an upload failed, carried across the upload endpoint's redirect back to the documents page: a short-lived
// cookie the page reads once and deletes, so a reload does not show it again and the address stays clean. It is
// encrypted and signed (Data Protection), so nobody can plant text of their own on the page through it, and the
// page renders it as text.
internal sealed class DocumentsFlash(IDataProtectionProvider protection)
{
    private const string CookieName = ".AspireAi.DocumentsFlash";
    private const int MaxMessageLength = 1000;

    private readonly IDataProtector _protector = protection.CreateProtector("AspireAi.Web.Documents.Flash");

    public void Set(HttpContext context, ApiProblem problem)
    {
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(problem);
        if (context.Response.HasStarted)
        {
            return;
        }

        var message = MessageOf(problem);
        var notice = new Notice(problem.Status, message.Length > MaxMessageLength ? message[..MaxMessageLength] + "…" : message, problem.TraceId);
        context.Response.Cookies.Append(CookieName, _protector.Protect(JsonSerializer.Serialize(notice)), Options(context));
    }

    public ApiProblem? Take(HttpContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (!context.Request.Cookies.TryGetValue(CookieName, out var value))
        {
            return null;
        }

        if (!context.Response.HasStarted)
        {
            context.Response.Cookies.Delete(CookieName, Options(context));
        }

        try
        {
            var notice = JsonSerializer.Deserialize<Notice>(_protector.Unprotect(value));
            return notice is null
                ? null
                : new ApiProblem(notice.Status, null, notice.Message, null, notice.TraceId, new Dictionary<string, string[]>(), null);
        }
        catch (Exception ex) when (ex is CryptographicException or JsonException)
        {
            // From before a key rotation, or not ours: there is nothing to show.
            return null;
        }
    }

    // A ValidationProblem's detail is empty and its title generic; its field errors say what was wrong.
    public static string MessageOf(ApiProblem problem)
    {
        ArgumentNullException.ThrowIfNull(problem);
        return problem.Errors.Count > 0
            ? string.Join(" ", problem.Errors.Values.SelectMany(messages => messages))
            : problem.Message;
    }

    private static CookieOptions Options(HttpContext context) => FlashCookies.Options(context, "/documents");

    private sealed record Notice(int Status, string Message, string? TraceId);
}
