using System.Net;
using System.Net.Http.Headers;
using System.Net.Http.Json;
using System.Text.RegularExpressions;

namespace AspireAi.Tests.Web;

// What a browser without script does, over real HTTP: keeps cookies, follows no redirects on its own (the
// tests assert them), and reads antiforgery tokens out of the forms it was served.
internal sealed partial class WebBrowser : IDisposable
{
    public const string SessionCookie = ".AspireAi.Session";

    public WebBrowser(Uri baseAddress)
    {
        BaseAddress = baseAddress;
        Http = new HttpClient(new SocketsHttpHandler
        {
            CookieContainer = Cookies,
            AllowAutoRedirect = false,
            // Like a browser tab that closes: drop the connection at once rather than reading on to reuse it.
            MaxResponseDrainSize = 0,
        })
        {
            BaseAddress = baseAddress,
        };
    }

    public Uri BaseAddress { get; }

    public HttpClient Http { get; }

    public CookieContainer Cookies { get; } = new();

    public string? Session => Cookies.GetCookies(BaseAddress)[SessionCookie]?.Value;

    public async Task<string> GetPageAsync(string path)
    {
        using var response = await Http.GetAsync(path);
        var html = await response.Content.ReadAsStringAsync();
        Assert.True(response.StatusCode == HttpStatusCode.OK, $"GET {path}: {(int)response.StatusCode} {html}");
        return html;
    }

    public async Task<HttpResponseMessage> PostFormAsync(string path, string token, IEnumerable<KeyValuePair<string, string>> fields) =>
        await Http.PostAsync(path, new FormUrlEncodedContent([new("__RequestVerificationToken", token), .. fields]));

    public async Task<HttpResponseMessage> SignInAsync(FakeUser user, string path = "/signin") =>
        await SignInAsync(user.Email, user.Password, path);

    public async Task<HttpResponseMessage> SignInAsync(string email, string password, string path = "/signin")
    {
        var token = AntiforgeryToken(await GetPageAsync(path));
        return await PostFormAsync(path, token,
        [
            new("_handler", "signin"),
            new("Input.Email", email),
            new("Input.Password", password),
        ]);
    }

    public async Task SignInOrFailAsync(FakeUser user)
    {
        using var response = await SignInAsync(user);
        Assert.Equal(HttpStatusCode.Redirect, response.StatusCode);
    }

    // Where a redirect points, as a path on this site ("/c/42"), however the server spelled it.
    public string LocationOf(HttpResponseMessage response)
    {
        var location = response.Headers.Location;
        Assert.NotNull(location);
        var absolute = location.IsAbsoluteUri ? location : new Uri(BaseAddress, location);
        Assert.Equal(BaseAddress.Authority, absolute.Authority);
        return absolute.PathAndQuery;
    }

    public static string AntiforgeryToken(string html)
    {
        var match = AntiforgeryInput().Match(html);
        Assert.True(match.Success, "The page has no antiforgery token.");
        return WebUtility.HtmlDecode(match.Groups["value"].Value);
    }

    public void Dispose() => Http.Dispose();

    [GeneratedRegex("""<input[^>]*name="__RequestVerificationToken"[^>]*value="(?<value>[^"]+)"[^>]*>""")]
    private static partial Regex AntiforgeryInput();
}
