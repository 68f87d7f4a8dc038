namespace AspireAi.Core.Encryption;

/// <summary>
/// Stored ciphertext (or a wrapped data key) failed authentication, names a key this process cannot use, or a plain
/// row was found where only encrypted ones are allowed. It is never answered with made-up text: the read fails.
/// </summary>
public sealed class EncryptedDataException : Exception
{
    public EncryptedDataException()
    {
    }

    public EncryptedDataException(string message) : base(message)
    {
    }

    public EncryptedDataException(string message, Exception innerException) : base(message, innerException)
    {
    }
}
