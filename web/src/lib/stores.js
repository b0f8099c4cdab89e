// Application state in Svelte stores, as in Open WebUI's src/lib/stores: the socket and its
// connection state, the signed-in user, the server config, active users and model usage,
// the model list and the per-channel unread counts.
import { writable } from 'svelte/store';

/** The socket.io-client Socket, or null before sign-in. */
export const socket = writable(null);
/** True while the socket is connected. */
export const socketConnected = writable(false);
/** True once a connection was lost and not yet restored (drives the banner). */
export const connectionLost = writable(false);
/** The session user {id, email, name, role, token}, or null. */
export const user = writable(null);
/** GET /api/config. */
export const config = writable(null);
/** Users active in the last 180 s (GET /api/usage user_count). */
export const activeUsers = writable(0);
/** Models in use right now (GET /api/usage model_ids). */
export const usage = writable([]);
/** GET /api/models data. */
export const models = writable([]);
/** channel id -> unread message count. */
export const unread = writable({});
/** The current route: {page, id}. */
export const route = writable({ page: 'chat', id: null });
