using System.Net;
using System.Net.Http.Json;
using System.Text.Json;
using AspireAi.Core.Chat;
using AspireAi.Tests.Infrastructure;

namespace AspireAi.Tests.Chat;

public sealed class ConversationTitlesSearchAndFeedbackTests(ApiFactory factory) : IClassFixture<ApiFactory>
{
    [Fact]
    public async Task An_untitled_conversation_is_named_after_its_first_exchange_and_keeps_that_name()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client);
        Assert.Equal("New conversation", await TitleAsync(client, id));

        await AskAsync(client, id, "  How do **lighthouses** work at night\nwhen the fog is very thick and ships are near?");
        Assert.Equal("How do lighthouses work at night when the fog is very thick…", await TitleAsync(client, id));

        await AskAsync(client, id, "And in the daytime?");
        Assert.Equal("How do lighthouses work at night when the fog is very thick…", await TitleAsync(client, id));
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM conversations WHERE id = $1 AND title_pending", id));
    }

    [Fact]
    public async Task A_given_title_and_a_rename_before_the_first_answer_are_kept()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var titled = await ChatTestData.CreateConversationAsync(client, "Chosen title");
        var renamed = await ChatTestData.CreateConversationAsync(client);
        using (var rename = await client.PatchAsJsonAsync($"/v1/conversations/{renamed}", new { title = "Renamed first" }))
        {
            Assert.Equal(HttpStatusCode.OK, rename.StatusCode);
        }

        await AskAsync(client, titled, "What is the capital of Portugal?");
        await AskAsync(client, renamed, "What is the capital of Spain?");

        Assert.Equal("Chosen title", await TitleAsync(client, titled));
        Assert.Equal("Renamed first", await TitleAsync(client, renamed));
    }

    [Theory]
    [InlineData("What is this?", "What is this?")]
    [InlineData("# ` * _", null)]
    [InlineData("Supercalifragilisticexpialidocious-and-then-some-more-words-glued-together-forever", "Supercalifragilisticexpialidocious-and-then-some-more-words…")]
    public void Titles_are_cleaned_and_cut_at_a_word(string question, string? expected)
    {
        var title = ConversationTitles.FromExchange(question, expected is null ? "" : "unused");
        Assert.Equal(expected, title);
        Assert.True(title is null || title.Length <= ConversationTitles.MaxLength);
    }

    [Fact]
    public void Without_words_in_the_question_the_answers_first_line_names_it()
    {
        Assert.Equal("Sure, here is a haiku", ConversationTitles.FromExchange("???", "\n**Sure, here is a haiku**\nmore"));
    }

    [Fact]
    public async Task Search_finds_conversations_by_title_or_message_text_only_among_the_callers_own()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var (other, _) = await factory.CreateUserClientAsync();
        var marker = $"zq{Guid.NewGuid():N}"[..12];
        var byTitle = await ChatTestData.CreateConversationAsync(client, $"Notes on {marker.ToUpperInvariant()}");
        var byMessage = await ChatTestData.CreateConversationAsync(client, "Unrelated title");
        await AskAsync(client, byMessage, $"Remember the word {marker} please");
        var unrelated = await ChatTestData.CreateConversationAsync(client, "Nothing here");
        var othersMatch = await ChatTestData.CreateConversationAsync(other, $"Also {marker}");

        var found = await ListAsync(client, $"?q={marker}");
        Assert.Equal([byMessage, byTitle], found);
        Assert.DoesNotContain(unrelated, found);
        Assert.DoesNotContain(othersMatch, found);
        // Wildcards are text: "%" matches only a literal percent sign.
        Assert.Empty(await ListAsync(client, "?q=%25"));

        using var tooLong = await client.GetAsync($"/v1/conversations?q={new string('a', 201)}");
        Assert.Equal(HttpStatusCode.BadRequest, tooLong.StatusCode);
        var errors = (await tooLong.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["q"], errors.EnumerateObject().Select(e => e.Name));
    }

    [Fact]
    public async Task Feedback_is_stored_with_the_answers_model_and_prompt_version_and_replaced_not_duplicated()
    {
        var (client, user) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client, "Feedback");
        var reply = await AskAsync(client, id, "Tell me a fact.");
        var answerId = reply.GetProperty("messageId").GetGuid();

        using var up = await client.PutAsJsonAsync($"/v1/conversations/{id}/messages/{answerId}/feedback", new { rating = "up", comment = "  Helpful  " });
        Assert.Equal(HttpStatusCode.OK, up.StatusCode);
        var body = await up.Content.ReadFromJsonAsync<JsonElement>();
        Assert.Equal("up", body.GetProperty("rating").GetString());
        Assert.Equal("Helpful", body.GetProperty("comment").GetString());
        Assert.Equal(reply.GetProperty("model").GetString(), body.GetProperty("model").GetString());
        Assert.Equal(reply.GetProperty("promptVersion").GetInt32(), body.GetProperty("promptVersion").GetInt32());

        using var down = await client.PutAsJsonAsync($"/v1/conversations/{id}/messages/{answerId}/feedback", new { rating = "down" });
        Assert.Equal(HttpStatusCode.OK, down.StatusCode);
        Assert.Equal(1, await ChatTestData.CountAsync(factory.DataSource,
            "SELECT count(*) FROM message_feedback WHERE message_id = $1 AND user_id = $2 AND rating = -1 AND comment IS NULL AND model = $3 AND prompt_version = $4",
            answerId, user.Id, reply.GetProperty("model").GetString()!, reply.GetProperty("promptVersion").GetInt32()));

        var listed = await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}/feedback");
        Assert.Equal(answerId, Assert.Single(listed.EnumerateArray()).GetProperty("messageId").GetGuid());

        using var cleared = await client.DeleteAsync($"/v1/conversations/{id}/messages/{answerId}/feedback");
        Assert.Equal(HttpStatusCode.NoContent, cleared.StatusCode);
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM message_feedback WHERE message_id = $1", answerId));
    }

    [Fact]
    public async Task Feedback_is_refused_on_questions_on_others_answers_and_with_a_bad_rating()
    {
        var (client, _) = await factory.CreateUserClientAsync();
        var (intruder, _) = await factory.CreateUserClientAsync();
        var id = await ChatTestData.CreateConversationAsync(client, "Mine");
        var reply = await AskAsync(client, id, "Hello?");
        var answerId = reply.GetProperty("messageId").GetGuid();
        var questionId = reply.GetProperty("userMessageId").GetGuid();

        using var onQuestion = await client.PutAsJsonAsync($"/v1/conversations/{id}/messages/{questionId}/feedback", new { rating = "up" });
        using var byIntruder = await intruder.PutAsJsonAsync($"/v1/conversations/{id}/messages/{answerId}/feedback", new { rating = "down" });
        using var listByIntruder = await intruder.GetAsync($"/v1/conversations/{id}/feedback");
        using var badRating = await client.PutAsJsonAsync($"/v1/conversations/{id}/messages/{answerId}/feedback", new { rating = "meh", comment = new string('x', 2001) });

        Assert.Equal(HttpStatusCode.NotFound, onQuestion.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, byIntruder.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, listByIntruder.StatusCode);
        Assert.Equal(HttpStatusCode.BadRequest, badRating.StatusCode);
        var errors = (await badRating.Content.ReadFromJsonAsync<JsonElement>()).GetProperty("errors");
        Assert.Equal(["comment", "rating"], errors.EnumerateObject().Select(e => e.Name).Order(StringComparer.Ordinal));
        Assert.Equal(0, await ChatTestData.CountAsync(factory.DataSource, "SELECT count(*) FROM message_feedback WHERE conversation_id = $1", id));
    }

    private static async Task<JsonElement> AskAsync(HttpClient client, Guid conversation, string question)
    {
        using var response = await client.SendAsync(ChatTestData.SendRequest(conversation, new { content = question }, stream: false));
        Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        return await response.Content.ReadFromJsonAsync<JsonElement>();
    }

    private static async Task<string?> TitleAsync(HttpClient client, Guid id) =>
        (await client.GetFromJsonAsync<JsonElement>($"/v1/conversations/{id}")).GetProperty("title").GetString();

    private static async Task<List<Guid>> ListAsync(HttpClient client, string query) =>
        [.. (await client.GetFromJsonAsync<JsonElement>($"/v1/conversations{query}")).GetProperty("items").EnumerateArray().Select(i => i.GetProperty("id").GetGuid())];
}
