using System.ComponentModel.DataAnnotations;

namespace AspireAi.Web.Documents;

// Bound from "Web:Documents", e.g. Web__Documents__MaxUploadBytes=20971520.
internal sealed class DocumentsUiOptions
{
    public const string SectionName = "Web:Documents";

    [Range(1, 100)]
    public int PageSize { get; set; } = 20;

    [Range(1, 100)]
    public int ChunkPageSize { get; set; } = 20;

    // Web refuses bigger files itself, before sending a byte to the Api. Keep it at or below the Api's
    // Documents:MaxUploadBytes (10 MB by default, like this): the Api then never has to cut an upload off midway.
    [Range(1, 1024L * 1024 * 1024)]
    public long MaxUploadBytes { get; set; } = 10 * 1024 * 1024;

    // Pasted text travels in an ordinary form post, whose fields ASP.NET Core caps at 4 MB.
    [Range(1, 1_000_000)]
    public int MaxPasteChars { get; set; } = 1_000_000;

    // How often a page with documents still being ingested reloads itself.
    [Range(1, 60)]
    public int RefreshSeconds { get; set; } = 3;

    // A large file from a slow connection streams through Web for as long as the browser takes to send it.
    [Range(typeof(TimeSpan), "00:00:05", "01:00:00")]
    public TimeSpan UploadTimeout { get; set; } = TimeSpan.FromMinutes(5);
}
