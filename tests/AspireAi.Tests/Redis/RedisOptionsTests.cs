using System.Net;
using AspireAi.Core.Redis;

namespace AspireAi.Tests.Redis;

public sealed class RedisOptionsTests
{
    [Fact]
    public void An_aspire_style_configuration_string_is_parsed_and_unknown_keys_are_ignored()
    {
        var options = RedisOptions.Parse(
            "cache.internal:6380,[::1]:7000,replica,password=s3cr=t,user=app,ssl=true,abortConnect=false,connectTimeout=2500,syncTimeout=1500,defaultDatabase=3,name=api,allowAdmin=true");

        Assert.Equal([new DnsEndPoint("cache.internal", 6380), new DnsEndPoint("::1", 7000), new DnsEndPoint("replica", 6379)], options.Endpoints);
        Assert.Equal("s3cr=t", options.Password);
        Assert.Equal("app", options.User);
        Assert.True(options.Ssl);
        Assert.Equal(TimeSpan.FromMilliseconds(2500), options.ConnectTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(1500), options.CommandTimeout);
        Assert.Equal(3, options.DefaultDatabase);
        Assert.Equal("api", options.ClientName);
    }

    [Fact]
    public void Defaults_apply_when_only_a_host_is_given()
    {
        var options = RedisOptions.Parse("localhost");

        Assert.Equal(new DnsEndPoint("localhost", 6379), Assert.Single(options.Endpoints));
        Assert.Null(options.Password);
        Assert.Equal(TimeSpan.FromSeconds(5), options.CommandTimeout);
        Assert.Equal(TimeSpan.FromMilliseconds(100), options.ReconnectBackoffBase);
        Assert.Equal(TimeSpan.FromSeconds(5), options.ReconnectBackoffMax);
    }

    [Fact]
    public void Async_timeout_overrides_sync_timeout_in_either_order()
    {
        Assert.Equal(TimeSpan.FromMilliseconds(900), RedisOptions.Parse("h,asyncTimeout=900,syncTimeout=100").CommandTimeout);
    }

    [Theory]
    [InlineData("password=x")]
    [InlineData("host:notaport")]
    [InlineData("host:6379,connectTimeout=soon")]
    [InlineData("host:6379,ssl=maybe")]
    public void Malformed_strings_are_rejected(string configuration)
    {
        Assert.Throws<FormatException>(() => RedisOptions.Parse(configuration));
    }

    [Fact]
    public void ToString_masks_the_password()
    {
        var text = RedisOptions.Parse("127.0.0.1:6379,password=hunter2").ToString();

        Assert.DoesNotContain("hunter2", text, StringComparison.Ordinal);
        Assert.Contains("password=*****", text, StringComparison.Ordinal);
    }
}
