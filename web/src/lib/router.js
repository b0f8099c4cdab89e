// Hash routing: #/chat[/id], #/channels[/id], #/notes[/id], #/dashboard, #/signin.
import { route } from './stores.js';

const PAGES = new Set(['chat', 'channels', 'notes', 'dashboard', 'signin']);

function parse() {
    const parts = location.hash.replace(/^#\/?/, '').split('/').filter(Boolean).map(decodeURIComponent);
    const page = PAGES.has(parts[0]) ? parts[0] : 'chat';
    return { page, id: parts[1] || null };
}

/** Starts following location.hash into the `route` store. */
export function startRouter() {
    const sync = () => route.set(parse());
    window.addEventListener('hashchange', sync);
    sync();
}

/** Navigates to a page (and optional id). */
export function go(page, id = null) {
    const hash = `#/${page}${id ? `/${encodeURIComponent(id)}` : ''}`;
    if (location.hash !== hash) location.hash = hash;
    else route.set(parse());
}
