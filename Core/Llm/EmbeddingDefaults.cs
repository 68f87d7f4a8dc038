namespace AspireAi.Core.Llm;

/// <summary>The embedding shape every store and provider agrees on.</summary>
public static class EmbeddingDefaults
{
    /// <summary>
    /// Width of every embedding: the pgvector column is <c>vector(384)</c>. Real providers are asked for
    /// <c>dimensions = 384</c> (text-embedding-3-*) and a response of another width is rejected.
    /// </summary>
    public const int Dimensions = 384;
}
