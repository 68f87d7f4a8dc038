// The Web app's one script. Pages are rendered on the server (Blazor static SSR, no Blazor runtime) and
// work without it; this module adds what needs a live connection:
// - streaming a chat answer: the send form is taken over and posted to Web's proxy
//   (POST app/conversations/{id}/stream), whose SSE events are shown as they arrive;
// - "load more" / "load older" links that insert the next page in place instead of navigating.
// - the "What I remember about you" panel beside the chat refreshes itself after an answer, while the Workers
//   extract what the exchange taught (a job that usually finishes within a few seconds).
//
// Model output is untrusted. While it streams it is only ever assigned with textContent; once the answer is
// done the server's sanitised HTML of the stored message (MarkdownRenderer) replaces it.

const AntiforgeryHeader = 'RequestVerificationToken';

for (const form of document.querySelectorAll('form[data-chat-form]')) {
    enhanceChatForm(form);
}
document.addEventListener('click', loadMore);
localizeTimes(document);
scrollToEnd(document.getElementById('message-list'), true);

// ---- Memory panel ----

// Memory extraction runs as a job after the exchange commits, so the panel is re-read a few times (from this page,
// rendered by the server as any reload would be) until it shows something new or the attempts run out. The panel's
// HTML is server-rendered and encoded like the rest of the page; nothing of the model's output is inserted here.
const memoryPanelDelaysMs = [1500, 3000, 6000, 12000];
let memoryPanelRefresh = 0;

async function refreshMemoryPanel() {
    const panel = document.querySelector('[data-testid="memory-panel"]');
    if (!panel) {
        return;
    }

    const run = ++memoryPanelRefresh; // a newer answer restarts the watch
    const before = memoryIds(panel);
    for (const delay of memoryPanelDelaysMs) {
        await new Promise(resolve => setTimeout(resolve, delay));
        if (run !== memoryPanelRefresh) {
            return;
        }

        try {
            const response = await fetch(location.pathname, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
            if (!response.ok) {
                return;
            }

            const page = new DOMParser().parseFromString(await response.text(), 'text/html');
            const fresh = page.querySelector('[data-testid="memory-panel"]');
            const current = document.querySelector('[data-testid="memory-panel"]');
            if (!fresh || !current || run !== memoryPanelRefresh) {
                return;
            }

            if (memoryIds(fresh) !== before) {
                current.replaceWith(document.importNode(fresh, true));
                localizeTimes(document.querySelector('[data-testid="memory-panel"]'));
                return;
            }
        } catch {
            return; // The panel as it was is still correct, only older.
        }
    }
}

function memoryIds(panel) {
    return Array.from(panel.querySelectorAll('[data-memory-id]'), item => item.dataset.memoryId).join(',');
}

// ---- Chat ----

function enhanceChatForm(form) {
    const textarea = form.querySelector('textarea[name="Content"]');
    const sendButton = form.querySelector('[data-testid="send"]');
    const stopButton = form.querySelector('[data-chat-stop]');
    const errorSlot = form.querySelector('[data-chat-error-slot]');
    const list = document.getElementById('message-list');
    const items = document.getElementById('message-items');
    let controller = null;

    form.addEventListener('submit', event => {
        event.preventDefault();
        send(textarea.value);
    });
    textarea.addEventListener('keydown', event => {
        if (event.key === 'Enter' && !event.shiftKey && !event.isComposing) {
            event.preventDefault();
            form.requestSubmit();
        }
    });
    // Aborting the fetch closes the connection; the proxy then cancels its request to the Api, which keeps
    // the partial answer as cancelled.
    stopButton.addEventListener('click', () => controller?.abort());

    async function send(text) {
        const content = text.trim();
        if (!content || controller) {
            return;
        }

        clearError();
        document.querySelector('[data-chat-empty]')?.remove();
        const question = createMessage('user');
        question.content.textContent = content;
        const answer = createMessage('assistant');
        answer.article.classList.add('streaming');
        items.append(question.article, answer.article);
        scrollToEnd(list, true);
        textarea.value = '';

        controller = new AbortController();
        const signal = controller.signal;
        setStreaming(true);
        let answerText = '';
        let finished = false;
        try {
            const response = await fetch(form.dataset.streamUrl, {
                method: 'POST',
                credentials: 'same-origin',
                headers: {
                    'Content-Type': 'application/json',
                    'Accept': 'text/event-stream',
                    [AntiforgeryHeader]: antiforgeryToken(form),
                },
                body: JSON.stringify({ content }),
                signal,
            });
            if (!response.ok || !isEventStream(response)) {
                throw await problemFrom(response);
            }

            for await (const { event, data } of readEvents(response.body)) {
                const payload = parseJson(data);
                switch (event) {
                    case 'delta':
                        answerText += payload.text ?? '';
                        answer.content.textContent = answerText;
                        scrollToEnd(list);
                        break;
                    case 'tool_call':
                        answer.tools.append(toolCall(payload));
                        answer.tools.hidden = false;
                        break;
                    case 'tool_result':
                        toolResult(answer.tools, payload);
                        break;
                    case 'usage':
                        showMeta(answer, { inputTokens: payload.inputTokens, outputTokens: payload.outputTokens });
                        break;
                    case 'done':
                        finished = true;
                        await complete(question, answer, payload);
                        break;
                    case 'error':
                        throw problemOf(payload);
                }
            }
            if (!finished) {
                throw { title: 'The answer ended unexpectedly.', detail: 'The connection closed before the answer was complete.' };
            }
        } catch (error) {
            if (signal.aborted) {
                answer.article.dataset.status = 'cancelled';
                appendStatus(answer, 'Stopped');
            } else {
                fail(error, content, question, answer, answerText);
            }
        } finally {
            answer.article.classList.remove('streaming');
            controller = null;
            setStreaming(false);
            textarea.focus();
        }
    }

    async function complete(question, answer, done) {
        question.article.dataset.messageId = done.userMessageId ?? '';
        answer.article.dataset.messageId = done.messageId ?? '';
        answer.article.dataset.status = 'complete'; // as the Api stores it
        showMeta(answer, done);
        if (Array.isArray(done.citations) && done.citations.length > 0) {
            // Before the footer, where ChatMessageItem.razor puts the list.
            answer.article.insertBefore(sourcesList(done.citations), answer.meta);
        }

        // The rendered markdown comes from the server, which sanitises the stored message and turns its [Sn]
        // markers into links to the stored citations; if that fails the plain text stays, which is still correct.
        if (done.messageId) {
            try {
                const url = form.dataset.messageHtmlUrl.replace('{messageId}', encodeURIComponent(done.messageId));
                const response = await fetch(url, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
                if (response.ok) {
                    answer.content.innerHTML = await response.text(); // server-sanitised HTML, not model text
                    answer.content.classList.replace('plain', 'markdown');
                }
            } catch {
                // Keep the plain text.
            }
        }

        refreshMemoryPanel();
    }

    function fail(error, content, question, answer, answerText) {
        const problem = error instanceof Error
            ? { title: 'The chat service could not be reached.', detail: error.message }
            : error;
        if (answerText) {
            answer.article.dataset.status = 'failed';
            appendStatus(answer, 'Failed', true);
        } else {
            answer.article.remove();
        }

        const retry = problem.status === 401
            ? null
            : () => {
                clearError();
                if (!answerText) {
                    question.article.remove();
                }
                send(content);
            };
        showError(problem, retry);
    }

    function setStreaming(streaming) {
        sendButton.disabled = streaming;
        stopButton.hidden = !streaming;
        form.setAttribute('aria-busy', String(streaming));
    }

    function showError(problem, retry) {
        const notice = document.createElement('div');
        notice.className = 'notice error';
        notice.setAttribute('role', 'alert');
        notice.dataset.testid = 'error';

        const message = document.createElement('span');
        message.className = 'notice-message';
        message.textContent = problem.status === 401
            ? 'Your session has ended.'
            : (problem.detail || problem.title || 'Something went wrong.');
        notice.append(message);

        if (problem.retryAfter) {
            const wait = document.createElement('span');
            wait.dataset.testid = 'retry-after';
            wait.textContent = `Try again in ${problem.retryAfter} seconds.`;
            notice.append(wait);
        }
        if (problem.status === 401) {
            const signIn = document.createElement('a');
            signIn.href = 'signin?returnUrl=' + encodeURIComponent(location.pathname + location.search);
            signIn.textContent = 'Sign in again';
            notice.append(signIn);
        }
        if (retry) {
            const button = document.createElement('button');
            button.type = 'button';
            button.className = 'secondary';
            button.dataset.testid = 'retry';
            button.textContent = 'Retry';
            button.addEventListener('click', retry);
            notice.append(button);
        }
        if (problem.traceId) {
            const trace = document.createElement('small');
            trace.className = 'notice-trace';
            trace.textContent = `Trace id: ${problem.traceId}`;
            notice.append(trace);
        }
        errorSlot.replaceChildren(notice);
    }

    function clearError() {
        errorSlot.replaceChildren();
        // A no-script error rendered by the server belongs to an earlier attempt.
        for (const notice of form.querySelectorAll('.notice.error')) {
            notice.remove();
        }
    }
}

// The same structure as ChatMessageItem.razor renders (plus a place for tool calls while streaming).
function createMessage(role) {
    const article = document.createElement('article');
    article.className = `message ${role}`;
    article.dataset.testid = `${role}-message`;

    const bubble = document.createElement('div');
    bubble.className = 'bubble';
    const content = document.createElement('div');
    content.className = 'message-content plain';
    content.dataset.testid = 'message-content';
    article.append(bubble);
    if (role !== 'assistant') {
        bubble.append(content);
        return { article, content };
    }

    const tools = document.createElement('div');
    tools.className = 'tool-calls';
    tools.hidden = true;
    bubble.append(tools, content);
    const meta = document.createElement('footer');
    meta.className = 'message-meta';
    meta.dataset.testid = 'usage';
    meta.hidden = true;
    article.append(meta);
    return { article, content, tools, meta };
}

// ChatMessageItem.razor's "Sources" list. Titles are document names users chose: text only, never markup.
function sourcesList(citations) {
    const aside = document.createElement('aside');
    aside.className = 'message-sources';
    aside.dataset.testid = 'message-sources';
    aside.setAttribute('aria-label', 'Sources');
    const label = document.createElement('span');
    label.className = 'message-sources-label';
    label.textContent = 'Sources';
    const list = document.createElement('ol');
    list.className = 'citation-list';
    citations.forEach((citation, index) => {
        const number = String(index + 1);
        const item = document.createElement('li');
        item.dataset.testid = 'citation';
        item.dataset.citation = number;
        const marker = document.createElement('span');
        marker.className = 'citation-number';
        marker.textContent = `[${number}]`;
        const title = citation?.title?.trim() ? citation.title : 'Untitled document';
        const href = citationHref(citation);
        let target;
        if (href) {
            target = document.createElement('a');
            target.href = href;
            target.dataset.testid = 'citation-link';
        } else {
            target = document.createElement('span');
        }
        target.textContent = title;
        item.append(marker, ' ', target);
        list.append(item);
    });
    aside.append(label, list);
    return aside;
}

// The same target as MarkdownRenderer.CitationHref: Web's page of the chunk, only for well-formed ids.
function citationHref(citation) {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
    const documentId = String(citation?.documentId ?? '');
    const chunkId = String(citation?.chunkId ?? '');
    return uuid.test(documentId) && uuid.test(chunkId)
        ? `documents/${documentId.toLowerCase()}/chunks/${chunkId.toLowerCase()}`
        : null;
}

function showMeta(answer, info) {
    const parts = [];
    if (info.model) {
        parts.push(info.model);
    }
    if (info.promptName || info.promptVersion) {
        parts.push(`${info.promptName ?? 'prompt'} v${info.promptVersion ?? '?'}`);
    }
    if (info.inputTokens != null || info.outputTokens != null) {
        parts.push(`${info.inputTokens ?? 0} → ${info.outputTokens ?? 0} tokens`);
    }
    if (info.cost != null) {
        parts.push(`$${Number(info.cost).toFixed(4).replace(/\.?0+$/, '')}`);
    }
    answer.meta.textContent = parts.join(' · ');
    answer.meta.hidden = parts.length === 0;
    // Only the finished answer's footer carries the model: tests and people look for it there.
    answer.meta.dataset.testid = info.model ? 'model-badge' : 'usage';
    if (info.traceId) {
        answer.meta.title = `Trace id ${info.traceId}`;
    }
}

function appendStatus(answer, text, isError = false) {
    const status = document.createElement('span');
    status.className = isError ? 'message-status error' : 'message-status';
    status.dataset.testid = 'message-status';
    status.textContent = text;
    answer.article.append(status);
}

function toolCall(call) {
    const details = document.createElement('details');
    details.className = 'tool-call';
    details.dataset.testid = 'tool-call';
    details.dataset.toolCallId = call.id ?? '';
    const summary = document.createElement('summary');
    summary.textContent = `Tool: ${call.name ?? 'unknown'}`;
    const args = document.createElement('pre');
    args.textContent = truncate(stringify(call.arguments));
    details.append(summary, args);
    return details;
}

function toolResult(tools, result) {
    const details = [...tools.querySelectorAll('.tool-call')].find(d => d.dataset.toolCallId === String(result.id ?? ''))
        ?? tools.appendChild(toolCall({ id: result.id, name: result.name, arguments: '' }));
    details.querySelector('summary').textContent =
        `Tool: ${result.name ?? 'unknown'} ${result.isError ? '(failed)' : '✓'}`;
    details.classList.toggle('failed', Boolean(result.isError));
    details.dataset.testid = 'tool-result';
    const output = document.createElement('pre');
    output.textContent = truncate(stringify(result.result));
    details.append(output);
    tools.hidden = false;
}

// ---- Server-sent events ----

function isEventStream(response) {
    return (response.headers.get('Content-Type') ?? '').startsWith('text/event-stream');
}

// Yields { event, data } per SSE event (https://html.spec.whatwg.org/multipage/server-sent-events.html).
async function* readEvents(body) {
    const reader = body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    let event = '';
    let data = [];
    let ended = false;
    try {
        for (;;) {
            const { value, done } = await reader.read();
            if (done) {
                ended = true;
                return;
            }
            buffer += value;
            let end;
            while ((end = buffer.search(/\r\n|\r|\n/)) >= 0) {
                // A lone \r at the end of a chunk may be the first half of \r\n: wait for the next chunk.
                if (buffer[end] === '\r' && end === buffer.length - 1) {
                    break;
                }
                const line = buffer.slice(0, end);
                buffer = buffer.slice(end + (buffer.startsWith('\r\n', end) ? 2 : 1));

                if (line === '') {
                    if (data.length > 0) {
                        yield { event: event || 'message', data: data.join('\n') };
                    }
                    event = '';
                    data = [];
                } else if (!line.startsWith(':')) {
                    const colon = line.indexOf(':');
                    const field = colon < 0 ? line : line.slice(0, colon);
                    const fieldValue = colon < 0 ? '' : line.slice(colon + 1).replace(/^ /, '');
                    if (field === 'event') {
                        event = fieldValue;
                    } else if (field === 'data') {
                        data.push(fieldValue);
                    }
                }
            }
        }
    } finally {
        // Left early (an error event, a failure while handling one): close the response, which the proxy
        // and the Api see as the browser having gone.
        if (!ended) {
            await reader.cancel().catch(() => {});
        }
    }
}

// ---- Problems (RFC 9457) ----

async function problemFrom(response) {
    let body = {};
    try {
        body = await response.json();
    } catch {
        // Not JSON: the status says enough.
    }
    const problem = problemOf(body);
    problem.status ??= response.status;
    problem.title ??= response.statusText || `The request failed (${response.status}).`;
    problem.traceId ??= response.headers.get('X-Trace-Id') ?? undefined;
    const retryAfter = response.headers.get('Retry-After');
    if (retryAfter && /^\d+$/.test(retryAfter)) {
        problem.retryAfter = Number(retryAfter);
    }
    // A ValidationProblem says what is wrong with the message itself.
    const fieldErrors = Object.values(body.errors ?? {}).flat();
    if (fieldErrors.length > 0) {
        problem.detail = fieldErrors.join(' ');
    }
    return problem;
}

function problemOf(payload) {
    return {
        status: payload?.status ?? undefined,
        title: payload?.title ?? undefined,
        detail: payload?.detail ?? undefined,
        traceId: payload?.traceId ?? undefined,
    };
}

// ---- Load more in place ----

async function loadMore(event) {
    const link = event.target.closest?.('a[data-load-more]');
    if (!link || event.defaultPrevented || event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) {
        return;
    }
    const selector = link.dataset.loadMoreTarget;
    const target = document.querySelector(selector);
    if (!target) {
        return;
    }

    event.preventDefault();
    link.setAttribute('aria-busy', 'true');
    try {
        const response = await fetch(link.href, { credentials: 'same-origin', headers: { Accept: 'text/html' } });
        if (!response.ok || response.redirected) {
            throw new Error(`HTTP ${response.status}`);
        }
        // The next page is this site's own server-rendered HTML; only the list items are taken from it.
        const page = new DOMParser().parseFromString(await response.text(), 'text/html');
        const nodes = [...(page.querySelector(selector)?.children ?? [])].map(node => document.importNode(node, true));
        const list = link.closest('[data-testid="message-list"]');
        const previousHeight = list?.scrollHeight ?? 0;
        if (link.dataset.loadMore === 'prepend') {
            target.prepend(...nodes);
            // Keep the message that was on screen where it was.
            if (list) {
                list.scrollTop += list.scrollHeight - previousHeight;
            }
        } else {
            target.append(...nodes);
        }
        localizeTimes(target);

        const next = page.querySelector(`a[data-load-more][data-load-more-target="${selector}"]`);
        if (next) {
            link.setAttribute('href', next.getAttribute('href'));
            link.removeAttribute('aria-busy');
        } else {
            link.remove();
        }
    } catch {
        location.href = link.href;
    }
}

// ---- Helpers ----

function antiforgeryToken(form) {
    return form.querySelector('input[name="__RequestVerificationToken"]')?.value ?? '';
}

function parseJson(data) {
    try {
        return JSON.parse(data);
    } catch {
        return {};
    }
}

function stringify(value) {
    if (value == null) {
        return '';
    }
    return typeof value === 'string' ? value : JSON.stringify(value, null, 2);
}

function truncate(text, max = 2000) {
    return text.length > max ? text.slice(0, max) + '…' : text;
}

function scrollToEnd(list, force = false) {
    if (!list) {
        return;
    }
    // Follow the answer only if the reader is already at the bottom, so scrolling up to read stays put.
    const nearBottom = list.scrollHeight - list.scrollTop - list.clientHeight < 80;
    if (force || nearBottom) {
        list.scrollTop = list.scrollHeight;
    }
}

// Times are rendered in UTC on the server; show them in the reader's zone.
function localizeTimes(root) {
    for (const time of root.querySelectorAll('time[datetime]')) {
        const date = new Date(time.dateTime);
        if (!Number.isNaN(date.getTime())) {
            time.textContent = date.toLocaleString(undefined, { dateStyle: 'medium', timeStyle: 'short' });
        }
    }
}
