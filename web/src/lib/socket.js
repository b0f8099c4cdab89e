// The Socket.IO connection, built exactly as Open WebUI's +layout.svelte does (spec §6.1,
// §6.2): path /ws/socket.io, reconnection delays 1–5 s with randomization 0.5, auth.token
// from localStorage (captured once: user-join re-sends the current token after every
// connect), a heartbeat every 30 s while connected, and the "Connection lost" state 2 s
// after a disconnect unless the socket came back.
import { io } from 'socket.io-client';
import { get } from 'svelte/store';
import { socket, socketConnected, connectionLost, config, activeUsers, usage } from './stores.js';
import { api } from './api.js';

const HEARTBEAT_MS = 30000;
const LOST_AFTER_MS = 2000;
const USAGE_POLL_MS = 15000;

/**
 * Opens the socket for the signed-in session and stores it in `socket`. Calling it again
 * closes the previous one first. Returns the new socket.
 */
export function openSocket() {
    closeSocket();
    const cfg = get(config);
    const enableWebsocket = cfg?.features?.enable_websocket ?? true;
    const s = io(undefined, {
        reconnection: true,
        reconnectionDelay: 1000,
        reconnectionDelayMax: 5000,
        randomizationFactor: 0.5,
        path: '/ws/socket.io',
        transports: enableWebsocket ? ['websocket'] : ['polling', 'websocket'],
        auth: { token: localStorage.token },
    });
    let heartbeat = null;
    let lostTimer = null;
    let usageTimer = null;

    const pollUsage = async () => {
        try {
            const u = await api.usage();
            activeUsers.set(u?.user_count ?? 0);
            usage.set(u?.model_ids ?? []);
        } catch {
            /* GET /api/usage may be admin-only: keep the last value */
        }
    };

    s.on('connect', () => {
        clearTimeout(lostTimer);
        lostTimer = null;
        socketConnected.set(true);
        connectionLost.set(false);
        document.body.dataset.socket = 'connected';
        clearInterval(heartbeat);
        heartbeat = setInterval(() => {
            if (s.connected) s.emit('heartbeat', {});
        }, HEARTBEAT_MS);
        if (localStorage.token) s.emit('user-join', { auth: { token: localStorage.token } });
        pollUsage();
        clearInterval(usageTimer);
        usageTimer = setInterval(pollUsage, USAGE_POLL_MS);
    });
    s.on('disconnect', (reason) => {
        socketConnected.set(false);
        document.body.dataset.socket = 'disconnected';
        clearInterval(heartbeat);
        heartbeat = null;
        clearInterval(usageTimer);
        if (reason === 'io client disconnect') return;
        clearTimeout(lostTimer);
        lostTimer = setTimeout(() => {
            if (!s.connected) connectionLost.set(true);
        }, LOST_AFTER_MS);
    });
    s.on('connect_error', (e) => console.debug('socket connect_error', e?.message));
    s.io.on('reconnect_attempt', (n) => console.debug('socket reconnect attempt', n));
    s.__siocCleanup = () => {
        clearInterval(heartbeat);
        clearTimeout(lostTimer);
        clearInterval(usageTimer);
    };
    socket.set(s);
    return s;
}

/** Closes the stored socket (sign-out). */
export function closeSocket() {
    const s = get(socket);
    if (!s) return;
    s.__siocCleanup?.();
    s.removeAllListeners();
    s.disconnect();
    socket.set(null);
    socketConnected.set(false);
    connectionLost.set(false);
}
