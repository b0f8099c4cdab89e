// Collaborative editing of a note over the Socket.IO events of Open WebUI (spec §3.8, §6.6):
// a Y.Doc whose XML fragment `prosemirror` is bound to the editor by y-prosemirror, and an
// awareness object in Open WebUI's JSON format, which y-prosemirror's cursor plugin reads.
//
// Wire rules, as the real Collaboration.ts:
//  - join on start and after every (re)connect: `ydoc:document:join {document_id, user_id,
//    user_name, user_color}`, then the awareness field `user = {name, color, id: socket.id}`;
//  - every binary value is a JSON array of byte values (Yjs update v1);
//  - local updates go out as `ydoc:document:update {document_id, user_id, socket_id, update,
//    data: {content: {md, html, json}}}` (the editor snapshot, which the server saves);
//  - `ydoc:document:state`: exactly [0,0] means "empty on the server": an empty editor seeds
//    the note's stored content if it is the first of `sessions` (sorted), an editor with
//    content re-sends its whole state; any other state is applied, and what the server
//    lacks (edits made while offline) goes out as one update;
//  - remote updates are applied with origin 'server', so they are not sent back, and 0.5 s
//    after the last one the merged snapshot is sent (with an empty update [0,0]) so that the
//    saved note holds every editor's edits;
//  - awareness updates are UTF-8 JSON `{"<clientID>": state}` of the changed clients; our
//    whole state is sent again when a peer joins (`ydoc:user:joined`) or when a client we
//    did not know shows up, since a state sent before a peer joined never reached it (the
//    real editor has this gap: a peer who does not move its cursor stays invisible).
import * as Y from 'yjs';
import { ySyncPlugin, yCursorPlugin, yUndoPlugin, undo, redo, prosemirrorJSONToYDoc } from 'y-prosemirror';
import { keymap } from '@tiptap/pm/keymap';
import { Extension } from '@tiptap/core';

const COLORS = ['#e11d48', '#0891b2', '#7c3aed', '#059669', '#d97706', '#2563eb', '#db2777',
    '#65a30d', '#9333ea', '#0d9488'];
const SNAPSHOT_DELAY_MS = 500;
const EMPTY_UPDATE = [0, 0];

/** Awareness with the y-protocols interface y-prosemirror needs, in Open WebUI's JSON format. */
export class JsonAwareness {
    constructor(doc) {
        this.doc = doc;
        this.clientID = doc.clientID;
        this.states = new Map([[this.clientID, {}]]);
        this.handlers = { change: new Set(), update: new Set() };
    }

    on(ev, fn) { this.handlers[ev]?.add(fn); }
    off(ev, fn) { this.handlers[ev]?.delete(fn); }
    getStates() { return this.states; }
    getLocalState() { return this.states.get(this.clientID) ?? null; }

    emit(changes, origin) {
        for (const ev of ['change', 'update']) {
            for (const fn of this.handlers[ev]) fn(changes, origin);
        }
    }

    setLocalStateField(field, value) {
        const st = { ...(this.states.get(this.clientID) ?? {}), [field]: value };
        this.states.set(this.clientID, st);
        this.emit({ added: [], updated: [this.clientID], removed: [] }, 'local');
    }

    /** The JSON bytes of the given clients' states. */
    encode(clients) {
        const obj = {};
        for (const id of clients) {
            const st = this.states.get(id);
            if (st) obj[id] = st;
        }
        return new TextEncoder().encode(JSON.stringify(obj));
    }

    /** Applies a peer's JSON bytes; returns the number of clients seen for the first time. */
    apply(bytes, origin) {
        const obj = JSON.parse(new TextDecoder().decode(bytes));
        if (!obj || typeof obj !== 'object' || Array.isArray(obj)) throw new Error('awareness: not an object');
        const added = [];
        const updated = [];
        for (const [k, v] of Object.entries(obj)) {
            const id = Number(k);
            if (!Number.isFinite(id) || id === this.clientID || !v || typeof v !== 'object') continue;
            (this.states.has(id) ? updated : added).push(id);
            this.states.set(id, v);
        }
        if (added.length || updated.length) this.emit({ added, updated, removed: [] }, origin);
        return added.length;
    }

    /** Forgets every peer (when the socket reconnects, their states may be stale). */
    clearPeers() {
        const gone = [...this.states.keys()].filter((id) => id !== this.clientID);
        for (const id of gone) this.states.delete(id);
        if (gone.length) this.emit({ added: [], updated: [], removed: gone }, 'local');
    }
}

/** Binary value of an event: an int array, an ArrayBuffer or a typed array. */
function bytesOf(v) {
    if (v instanceof Uint8Array) return v;
    if (v instanceof ArrayBuffer) return new Uint8Array(v);
    if (ArrayBuffer.isView(v)) return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    if (Array.isArray(v)) return Uint8Array.from(v);
    throw new Error('not a byte array');
}

/** One note's shared document over a socket. */
export class NoteCollaboration {
    /**
     * documentId: "note:<id>"; socket: the app socket; user: {id, name}; initialContent: the
     * note's stored content (ProseMirror JSON object or HTML string) for the seed rule;
     * onPeers(list): called with the peers' awareness users whenever they change.
     */
    constructor(documentId, socket, user, initialContent, onPeers = () => {}) {
        this.documentId = documentId;
        this.socket = socket;
        this.user = user;
        this.initialContent = initialContent;
        this.onPeers = onPeers;
        this.doc = new Y.Doc();
        this.awareness = new JsonAwareness(this.doc);
        this.editor = null;
        this.getContent = null;
        this.snapshotTimer = null;
        this.remoteChanged = false;
        this.color = COLORS[Math.floor(Math.random() * COLORS.length)];
        this.listen();
    }

    /** The tiptap extension that binds the editor to the shared fragment. */
    extension() {
        const self = this;
        return Extension.create({
            name: 'siocCollaboration',
            addProseMirrorPlugins() {
                return [
                    ySyncPlugin(self.doc.getXmlFragment('prosemirror')),
                    yCursorPlugin(self.awareness),
                    yUndoPlugin(),
                    keymap({ 'Mod-z': undo, 'Mod-y': redo, 'Mod-Shift-z': redo }),
                ];
            },
        });
    }

    /** Attaches the editor (and its snapshot getter), then joins if connected. */
    attach(editor, getContent) {
        this.editor = editor;
        this.getContent = getContent;
        if (this.socket.connected) this.join();
    }

    join() {
        if (!this.editor) return;
        this.socket.emit('ydoc:document:join', {
            document_id: this.documentId,
            user_id: this.user.id,
            user_name: this.user.name,
            user_color: this.color,
        });
        this.awareness.setLocalStateField('user', { name: this.user.name, color: this.color, id: this.socket.id });
    }

    peers() {
        const out = [];
        for (const [id, st] of this.awareness.getStates()) {
            if (id !== this.awareness.clientID && st?.user) out.push({ clientID: id, ...st.user });
        }
        return out;
    }

    listen() {
        const s = this.socket;
        this.onUpdate = (m) => {
            if (!m || m.document_id !== this.documentId || m.socket_id === s.id) return;
            // Newer Open WebUI editors also send data-only snapshots (no `update`).
            if (m.update == null) return;
            this.remoteChanged = false;
            try {
                Y.applyUpdate(this.doc, bytesOf(m.update), 'server');
            } catch (e) {
                console.error('note: bad update', e);
                return;
            }
            // Only a change needs a new snapshot (an empty or duplicate update must not
            // start a snapshot ping-pong between editors).
            if (!this.remoteChanged) return;
            clearTimeout(this.snapshotTimer);
            this.snapshotTimer = setTimeout(() => this.sendSnapshot(), SNAPSHOT_DELAY_MS);
        };
        this.onState = (m) => {
            if (!m || m.document_id !== this.documentId || m.state == null) return;
            try {
                this.applyState(bytesOf(m.state), Array.isArray(m.sessions) ? m.sessions : []);
            } catch (e) {
                console.error('note: bad state', e);
                s.emit('ydoc:document:state', { document_id: this.documentId });
            }
        };
        this.onAwareness = (m) => {
            if (!m || m.document_id !== this.documentId) return;
            let fresh = 0;
            try {
                fresh = this.awareness.apply(bytesOf(m.update), 'server');
            } catch (e) {
                console.warn('note: bad awareness update', e);
            }
            // A peer we did not know: it missed our state (sent before it joined), resend it.
            if (fresh) this.sendLocalAwareness();
        };
        this.onJoined = (m) => {
            if (m?.document_id === this.documentId) this.sendLocalAwareness();
        };
        this.onLocal = (update, origin) => {
            if (origin === 'server') this.remoteChanged = true;
            if (origin === 'server' || !this.editor || !s.connected) return;
            clearTimeout(this.snapshotTimer);
            this.snapshotTimer = null;
            // The editor view updates in the same transaction; read the snapshot after it.
            queueMicrotask(() => this.sendUpdate(Array.from(update)));
        };
        this.onAwarenessChange = ({ added, updated, removed }, origin) => {
            // Report peers outside the caller's stack: a blur during teardown changes the cursor.
            queueMicrotask(() => this.editor && this.onPeers(this.peers()));
            if (origin === 'server' || !s.connected) return;
            const changed = [...added, ...updated, ...removed];
            s.emit('ydoc:awareness:update', {
                document_id: this.documentId,
                user_id: s.id,
                update: Array.from(this.awareness.encode(changed)),
            });
        };
        this.onConnect = () => {
            this.awareness.clearPeers();
            this.join();
        };
        s.on('ydoc:document:update', this.onUpdate);
        s.on('ydoc:document:state', this.onState);
        s.on('ydoc:awareness:update', this.onAwareness);
        s.on('ydoc:user:joined', this.onJoined);
        s.on('connect', this.onConnect);
        this.doc.on('update', this.onLocal);
        this.awareness.on('change', this.onAwarenessChange);
    }

    /** Sends our whole awareness state (for peers that joined after our last change). */
    sendLocalAwareness() {
        if (!this.socket.connected || !this.editor) return;
        this.socket.emit('ydoc:awareness:update', {
            document_id: this.documentId,
            user_id: this.socket.id,
            update: Array.from(this.awareness.encode([this.awareness.clientID])),
        });
    }

    applyState(state, sessions) {
        const fragment = this.doc.getXmlFragment('prosemirror');
        const emptyOnServer = state.length === 2 && state[0] === 0 && state[1] === 0;
        if (!emptyOnServer) {
            Y.applyUpdate(this.doc, state, 'server');
            // Edits made while disconnected are not on the server yet: send what it lacks.
            const missing = Y.encodeStateAsUpdate(this.doc, Y.encodeStateVectorFromUpdate(state));
            if (missing.length > 2) this.sendUpdate(Array.from(missing));
            return;
        }
        if (fragment.length > 0) {
            // The server lost the document (restart, or everyone left): give it ours back.
            this.socket.emit('ydoc:document:update', {
                document_id: this.documentId,
                user_id: this.user.id,
                socket_id: this.socket.id,
                update: Array.from(Y.encodeStateAsUpdate(this.doc)),
            });
            return;
        }
        const first = [...sessions].sort()[0];
        if (this.initialContent && (sessions.length === 0 || first === this.socket.id)) this.seed();
    }

    seed() {
        const c = this.initialContent;
        if (typeof c === 'string') {
            this.editor.commands.setContent(c);
            return;
        }
        const seeded = prosemirrorJSONToYDoc(this.editor.schema, c, 'prosemirror');
        Y.applyUpdate(this.doc, Y.encodeStateAsUpdate(seeded));
    }

    sendUpdate(update) {
        if (!this.socket.connected) return;
        this.socket.emit('ydoc:document:update', {
            document_id: this.documentId,
            user_id: this.user.id,
            socket_id: this.socket.id,
            update,
            data: { content: this.getContent ? this.getContent() : { md: '', html: '', json: null } },
        });
    }

    sendSnapshot() {
        this.snapshotTimer = null;
        this.sendUpdate(EMPTY_UPDATE);
    }

    /** Stops listening and leaves the document (after flushing a pending snapshot). */
    destroy() {
        const s = this.socket;
        this.onPeers = () => {};
        if (this.snapshotTimer) {
            clearTimeout(this.snapshotTimer);
            this.sendSnapshot();
        }
        s.off('ydoc:document:update', this.onUpdate);
        s.off('ydoc:document:state', this.onState);
        s.off('ydoc:awareness:update', this.onAwareness);
        s.off('ydoc:user:joined', this.onJoined);
        s.off('connect', this.onConnect);
        this.doc.off('update', this.onLocal);
        this.awareness.off('change', this.onAwarenessChange);
        if (s.connected) s.emit('ydoc:document:leave', { document_id: this.documentId, user_id: this.user.id });
        this.editor = null;
        this.doc.destroy();
    }
}
