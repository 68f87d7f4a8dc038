using System.Collections.Concurrent;
using AspireAi.Core.Encryption;
using Microsoft.Extensions.Options;
using Npgsql;

namespace AspireAi.Tests.Infrastructure;

/// <summary>
/// The production cipher over a test database, with this run's master key: tests that read message, memory or chunk
/// text straight from the tables (to assert what was stored) decrypt it the way the services do.
/// </summary>
public static class TestCipher
{
    private static readonly ConcurrentDictionary<NpgsqlDataSource, FieldCipher> Ciphers = new();

    public static FieldCipher For(NpgsqlDataSource dataSource) => Ciphers.GetOrAdd(dataSource, static source =>
    {
        var options = Options.Create(new EncryptionOptions { MasterKey = TestServers.EncryptionMasterKey });
        return new FieldCipher(new DataKeyStore(source, new MasterKeyRing(options), options, TimeProvider.System), options);
    });

    /// <summary>Decrypts the text of a row read as (plain column, key id, ciphertext) at <paramref name="plainOrdinal"/> and the two after it.</summary>
    public static async Task<string?> OpenAsync(NpgsqlDataSource dataSource, NpgsqlDataReader reader, int plainOrdinal, EncryptedField field)
    {
        ArgumentNullException.ThrowIfNull(reader);
        Guid? keyId = reader.IsDBNull(plainOrdinal + 1) ? null : reader.GetGuid(plainOrdinal + 1);
        var ciphertext = reader.IsDBNull(plainOrdinal + 2) ? null : reader.GetFieldValue<byte[]>(plainOrdinal + 2);
        var plain = reader.IsDBNull(plainOrdinal) ? null : reader.GetString(plainOrdinal);
        return await For(dataSource).OpenNullableAsync(keyId, ciphertext, plain, field, "test", CancellationToken.None);
    }
}
