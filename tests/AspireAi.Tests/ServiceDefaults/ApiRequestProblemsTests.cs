using System.Net;
using System.Net.Http.Json;
using System.Text;
using System.Text.Json;
using AspireAi.Tests.Chat;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.ServiceDefaults;

/// <summary>The binding problems of <see cref="RequestProblemsTests"/> through the real Api's endpoints (Development, developer page on).</summary>
public sealed class ApiRequestProblemsTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    private static StringContent Json(string json) => new(json, Encoding.UTF8, "application/json");

    [Fact]
    public async Task A_nul_character_in_a_chat_message_is_refused_by_name_and_nothing_is_written()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.PostAsync($"/v1/conversations/{id}/messages", Json("""{"content":"hello\u0000there"}"""));

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var problem = await response.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("NUL", problem.GetProperty("errors").GetProperty("content")[0].GetString(), StringComparison.Ordinal);
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM messages WHERE conversation_id = $1", id));
    }

    [Fact]
    public async Task A_wrongly_typed_field_names_itself_and_the_type_it_needs()
    {
        var (client, _) = await factory.CreateUserClientAsync();

        using var search = await client.PostAsync("/v1/memories/search", Json("""{"query":"where do I work","top_k":"ten"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, search.StatusCode);
        var problem = await search.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Expected a whole number.", problem.GetProperty("errors").GetProperty("top_k")[0].GetString());

        using var create = await client.PostAsync("/v1/memories", Json("""{"text":"I like tea","infer":"yes"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, create.StatusCode);
        problem = await create.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Expected true or false.", problem.GetProperty("errors").GetProperty("infer")[0].GetString());
    }

    [Fact]
    public async Task An_endpoint_reading_its_own_body_names_fields_the_same_way_and_writes_nothing()
    {
        var (client, user) = await factory.CreateUserClientAsync();

        using var nul = await client.PostAsync("/v1/documents", Json("""{"title":"Notes","text":"a\u0000b"}"""));
        Assert.Equal(HttpStatusCode.BadRequest, nul.StatusCode);
        var problem = await nul.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Contains("NUL", problem.GetProperty("errors").GetProperty("text")[0].GetString(), StringComparison.Ordinal);

        using var bulk = await client.PostAsync("/v1/documents/bulk", Json("""{"documents":[{"title":"t","text":["not","text"]}]}"""));
        Assert.Equal(HttpStatusCode.BadRequest, bulk.StatusCode);
        problem = await bulk.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("Expected a string.", problem.GetProperty("errors").GetProperty("documents[0].text")[0].GetString());

        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM documents WHERE owner_user_id = $1", user.Id));
    }

    [Fact]
    public async Task A_query_parameter_that_is_not_a_number_is_a_problem_naming_it()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);

        using var response = await client.GetAsync($"/v1/conversations/{id}/messages?limit=abc");

        Assert.Equal(HttpStatusCode.BadRequest, response.StatusCode);
        Assert.Equal("application/problem+json", response.Content.Headers.ContentType?.MediaType);
        var detail = (await response.Content.ReadFromJsonAsync<JsonElement>()).ToString();
        Assert.Contains("limit", detail, StringComparison.Ordinal);
    }
}
