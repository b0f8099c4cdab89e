// REST client of the sioc server, with Open WebUI's paths and payloads. Every call sends the
// session token from localStorage as a Bearer header and throws an ApiError carrying the
// server's `detail` message on a non-2xx answer.

/** An HTTP error answer: `status` and the server's `detail` text. */
export class ApiError extends Error {
    constructor(status, detail) {
        super(detail || `HTTP ${status}`);
        this.status = status;
        this.detail = detail;
    }
}

/** The stored session token, or null. */
export function getToken() {
    return localStorage.getItem('token');
}

/** Sends one request; resolves the parsed JSON body (or null for an empty one). */
export async function request(path, { method = 'GET', body, signal } = {}) {
    const headers = { Accept: 'application/json' };
    const token = getToken();
    if (token) headers.Authorization = `Bearer ${token}`;
    if (body !== undefined) headers['Content-Type'] = 'application/json';
    const res = await fetch(path, {
        method, headers, signal,
        body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await res.text();
    let json = null;
    if (text) {
        try {
            json = JSON.parse(text);
        } catch {
            json = null;
        }
    }
    if (!res.ok) {
        let detail = json && (json.detail || (json.error && json.error.message));
        if (detail && typeof detail !== 'string') detail = JSON.stringify(detail);
        throw new ApiError(res.status, detail || text.slice(0, 200) || res.statusText);
    }
    return json;
}

export const api = {
    config: () => request('/api/config'),
    signin: (email, password) => request('/api/v1/auths/signin', { method: 'POST', body: { email, password } }),
    signup: (name, email, password) =>
        request('/api/v1/auths/signup', { method: 'POST', body: { name, email, password } }),
    session: () => request('/api/v1/auths/'),
    models: () => request('/api/models'),
    usage: () => request('/api/usage'),
    stats: () => request('/api/sioc/stats'),

    chats: () => request('/api/v1/chats/'),
    newChat: (chat) => request('/api/v1/chats/new', { method: 'POST', body: { chat } }),
    chat: (id) => request(`/api/v1/chats/${encodeURIComponent(id)}`),
    updateChat: (id, chat) => request(`/api/v1/chats/${encodeURIComponent(id)}`, { method: 'POST', body: { chat } }),
    completions: (form) => request('/api/chat/completions', { method: 'POST', body: form }),
    chatTasks: (id) => request(`/api/tasks/chat/${encodeURIComponent(id)}`),
    stopChat: (id) => request(`/api/tasks/chat/${encodeURIComponent(id)}/stop`, { method: 'POST' }),

    channels: () => request('/api/v1/channels/'),
    createChannel: (name) => request('/api/v1/channels/create', { method: 'POST', body: { name } }),
    channelMessages: (id) => request(`/api/v1/channels/${encodeURIComponent(id)}/messages`),
    postMessage: (id, content, tempId) => request(`/api/v1/channels/${encodeURIComponent(id)}/messages/post`,
        { method: 'POST', body: { content, temp_id: tempId } }),

    notes: () => request('/api/v1/notes/'),
    createNote: (title) => request('/api/v1/notes/create', {
        method: 'POST',
        body: { title, data: { content: { json: null, html: '', md: '' } }, meta: null, access_grants: [] },
    }),
    note: (id) => request(`/api/v1/notes/${encodeURIComponent(id)}`),
    updateNote: (id, form) => request(`/api/v1/notes/${encodeURIComponent(id)}/update`, { method: 'POST', body: form }),
};

/** A list out of an answer that is either an array or {data|items: [...]}. */
export function listOf(x) {
    if (Array.isArray(x)) return x;
    if (x && Array.isArray(x.data)) return x.data;
    if (x && Array.isArray(x.items)) return x.items;
    return [];
}
