// The little the chat page needs that Blazor cannot do itself. Loaded as a module by ChatConversation.

// Keep the newest message in view, unless the reader has scrolled up to read something older.
export function scrollToEnd(element, force) {
    if (!element) {
        return;
    }
    const nearBottom = element.scrollHeight - element.scrollTop - element.clientHeight < 120;
    if (force || nearBottom) {
        element.scrollTop = element.scrollHeight;
    }
}

// Enter sends, Shift+Enter starts a new line: a keydown default can only be prevented in the browser.
export function enterToSend(textarea) {
    if (!textarea || textarea.dataset.enterToSend) {
        return;
    }
    textarea.dataset.enterToSend = "on";
    textarea.addEventListener("keydown", event => {
        if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            textarea.form?.requestSubmit();
        }
    });
}

// After the circuit refreshed the Api tokens, write them into the session cookie with an ordinary request (the
// circuit's own connection cannot set cookies). True when the server renewed it.
export async function renewSession(url, antiforgeryToken) {
    const response = await fetch(url, {
        method: "POST",
        credentials: "same-origin",
        headers: { "RequestVerificationToken": antiforgeryToken },
    });
    return response.ok;
}
