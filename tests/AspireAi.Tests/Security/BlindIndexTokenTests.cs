using System.Security.Cryptography;
using System.Text;
using AspireAi.Core.Common;
using AspireAi.Core.Encryption;

namespace AspireAi.Tests.Security;

/// <summary>
/// The blind index's token format: rows already stored hold these bytes, and a query must produce the same ones, so
/// the derivation (HMAC-SHA256 of each normalised word under the index key, first 16 bytes) may not drift.
/// </summary>
public sealed class BlindIndexTokenTests
{
    [Fact]
    public void Each_distinct_word_is_the_truncated_hmac_of_its_normal_form_in_order()
    {
        var key = new DataKey(Guid.NewGuid(), Guid.NewGuid(), "index", RandomNumberGenerator.GetBytes(32));

        var tokens = FieldCipher.Tokens(key, "Working in Lisbon; the LISBON office works late");

        var words = TextNormalizer.ContentWords("Working in Lisbon; the LISBON office works late");
        Assert.True(words.Count >= 3, "the sentence must keep several content words");
        Assert.Equal(words.Count, tokens.Length);
        for (var i = 0; i < words.Count; i++)
        {
            Assert.Equal(HMACSHA256.HashData(key.Key, Encoding.UTF8.GetBytes(words[i]))[..16], tokens[i]);
        }
        // "Lisbon" and "LISBON", "Working" and "works" each give one token.
        Assert.Equal(tokens.Length, tokens.Select(Convert.ToHexString).Distinct().Count());
        Assert.Empty(FieldCipher.Tokens(key, "the and of"));
        Assert.Empty(FieldCipher.Tokens(key, null));
    }

    [Fact]
    public void Another_key_gives_other_tokens_for_the_same_words()
    {
        var one = new DataKey(Guid.NewGuid(), Guid.NewGuid(), "index", RandomNumberGenerator.GetBytes(32));
        var other = one with { Key = RandomNumberGenerator.GetBytes(32) };

        Assert.NotEqual(FieldCipher.Tokens(one, "kindergarten")[0], FieldCipher.Tokens(other, "kindergarten")[0]);
    }
}
