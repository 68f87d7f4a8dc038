using System.Text;
using AspireAi.Core.Redis;

namespace AspireAi.Tests.Redis;

public sealed class RespEncoderTests
{
    [Fact]
    public void Arguments_are_encoded_as_bulk_strings_with_utf8_text_and_invariant_numbers()
    {
        // A culture with a decimal comma and an odd minus sign: numbers must still go out in invariant form.
        var culture = Thread.CurrentThread.CurrentCulture;
        var hostile = (System.Globalization.CultureInfo)System.Globalization.CultureInfo.InvariantCulture.Clone();
        hostile.NumberFormat.NumberDecimalSeparator = ",";
        hostile.NumberFormat.NegativeSign = "~";
        Thread.CurrentThread.CurrentCulture = hostile;
        try
        {
            var encoded = Encode("SET", "ключ", new byte[] { 0, 13, 10 }, 42, -7L, 1.5, double.NegativeInfinity);

            Assert.Equal(
                "*7\r\n$3\r\nSET\r\n$8\r\nключ\r\n$3\r\n\0\r\n\r\n$2\r\n42\r\n$2\r\n-7\r\n$3\r\n1.5\r\n$4\r\n-inf\r\n",
                Encoding.UTF8.GetString(encoded));
        }
        finally
        {
            Thread.CurrentThread.CurrentCulture = culture;
        }
    }

    [Fact]
    public void Long_arguments_get_multi_digit_length_prefixes()
    {
        var value = new string('x', 12345);

        var encoded = Encoding.UTF8.GetString(Encode("ECHO", value));

        Assert.Equal($"*2\r\n$4\r\nECHO\r\n$12345\r\n{value}\r\n", encoded);
    }

    [Theory]
    [InlineData(null)]
    [InlineData(1.5f)]
    [InlineData(double.NaN)]
    public void Unsupported_arguments_are_rejected_before_anything_is_sent(object? arg)
    {
        Assert.Throws<ArgumentException>(() => Encode("SET", "k", arg!));
    }

    private static byte[] Encode(string command, params object[] args)
    {
        var buffer = RespEncoder.Encode(command, args, out var length);
        var copy = buffer.AsSpan(0, length).ToArray();
        RespEncoder.Return(buffer);
        return copy;
    }
}
