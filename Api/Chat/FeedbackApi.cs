using System.ComponentModel.DataAnnotations;
using AspireAi.Api.Auth;
using AspireAi.Api.Conversations;
using AspireAi.Core.Chat;
using AspireAi.Core.Identity;
using Microsoft.AspNetCore.Http.HttpResults;

namespace AspireAi.Api.Chat;

/// <summary>Thumbs up / down with an optional comment on the caller's own answers.</summary>
public static class FeedbackApi
{
    public static RouteGroupBuilder MapFeedbackApi(this IEndpointRouteBuilder app)
    {
        var group = app.MapGroup("/v1/conversations/{id:guid}").WithTags("Chat").RequireAuthorization().RequireScope(ApiKeyScopes.Chat);
        group.MapPut("/messages/{messageId:guid}/feedback", SetFeedback);
        group.MapDelete("/messages/{messageId:guid}/feedback", DeleteFeedback);
        group.MapGet("/feedback", ListFeedback);
        return group;
    }

    public sealed record FeedbackRequest(
        [property: Required, AllowedValues("up", "down", ErrorMessage = "The rating must be \"up\" or \"down\".")] string? Rating,
        [property: MaxLength(MessageFeedbackStore.MaxCommentLength)] string? Comment);

    public sealed record FeedbackResponse(
        Guid MessageId, string Rating, string? Comment, string? Model, string? PromptName, int? PromptVersion,
        DateTimeOffset CreatedAt, DateTimeOffset UpdatedAt);

    public static async Task<Results<Ok<FeedbackResponse>, ProblemHttpResult>> SetFeedback(
        Guid id, Guid messageId, FeedbackRequest request, HttpContext http, MessageFeedbackStore store)
    {
        var rating = request.Rating == "up" ? FeedbackRating.Up : FeedbackRating.Down;
        var comment = string.IsNullOrWhiteSpace(request.Comment) ? null : request.Comment.Trim();
        var feedback = await store.SetAsync(http.User.GetCurrentUser().UserId, id, messageId, rating, comment, http.RequestAborted);
        return feedback is null ? AnswerNotFound(id, messageId) : TypedResults.Ok(ToResponse(feedback));
    }

    public static async Task<Results<NoContent, ProblemHttpResult>> DeleteFeedback(
        Guid id, Guid messageId, HttpContext http, MessageFeedbackStore store) =>
        await store.DeleteAsync(http.User.GetCurrentUser().UserId, id, messageId, http.RequestAborted)
            ? TypedResults.NoContent()
            : TypedResults.Problem(title: "Feedback not found", detail: $"No feedback on message {messageId} in conversation {id}.",
                statusCode: StatusCodes.Status404NotFound);

    public static async Task<Results<Ok<IReadOnlyList<FeedbackResponse>>, ProblemHttpResult>> ListFeedback(
        Guid id, HttpContext http, MessageFeedbackStore store)
    {
        var items = await store.ListAsync(http.User.GetCurrentUser().UserId, id, http.RequestAborted);
        return items is null ? ConversationsApi.NotFound(id) : TypedResults.Ok<IReadOnlyList<FeedbackResponse>>([.. items.Select(ToResponse)]);
    }

    // Also for a user message or someone else's answer: only own answers take feedback, and others' do not exist.
    private static ProblemHttpResult AnswerNotFound(Guid id, Guid messageId) =>
        TypedResults.Problem(title: "Answer not found", detail: $"No assistant answer {messageId} in conversation {id}.",
            statusCode: StatusCodes.Status404NotFound);

    private static FeedbackResponse ToResponse(MessageFeedback f) =>
        new(f.MessageId, f.Rating == FeedbackRating.Up ? "up" : "down", f.Comment, f.Model, f.PromptName, f.PromptVersion, f.CreatedAt, f.UpdatedAt);
}
