// yjs_text against the real `yjs` package: documents edited concurrently by several
// Y.Docs (Y.Text with emoji, formatting and embeds; a y-prosemirror-shaped XmlFragment
// with paragraphs, headings, lists, code blocks, blockquotes, hard breaks, marks and
// attributes; map and array noise), encoded as full states, merges of all or some of
// the update events, diffs and single events. Each update is applied to a fresh Y.Doc
// in Node; the text read from it with the rules of src/yjs/yjs_text.h must equal what
// the C side extracts from the same bytes.
//
// Seeds vary per run (YJS_TEXT_SEED=<n> replays one); a failure prints the seed, the
// case and the update in hex. YJS_TEXT_DOCSETS sets how many document sets a seed makes.
// Runs build/yjs-text-harness (batch) and build/sioc-yjs (per case, a subset).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as Y from 'yjs';

const BUILD = process.env.SIOC_BUILD || 'build';
const HARNESS = path.join(BUILD, 'yjs-text-harness');
const CLI = path.join(BUILD, 'sioc-yjs');
const DOCSETS = Number(process.env.YJS_TEXT_DOCSETS || 40);

// ---- seeded randomness (mulberry32)
function rng(seed) {
    let s = seed >>> 0;
    const rnd = () => {
        s = (s + 0x6D2B79F5) >>> 0;
        let t = s;
        t = Math.imul(t ^ (t >>> 15), t | 1);
        t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
        return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
    const ri = (n) => Math.floor(rnd() * n);
    const pick = (a) => a[ri(a.length)];
    return { rnd, ri, pick };
}

const CHARS = ['a', 'b', 'c', 'x', 'é', '中', '😀', '👍🏽', ' ', 'ß', '\n', '\u200d',
    '🇫🇷', 'ǅ'];
const TEXT_ROOTS = ['text', 'Title', 'ñotes'];
const XML_ROOTS = ['prosemirror', 'default'];

// ---- reading a Y.Doc with the rules of yjs_text.h
const plain = (t) => Y.Text.prototype.toString.call(t); // visible String items only
const isText = (c) => c instanceof Y.Text; // Y.Text and Y.XmlText
const isElem = (c) => c instanceof Y.XmlFragment; // Y.XmlElement and Y.XmlFragment
const isBreak = (c) => c instanceof Y.XmlElement &&
    (c.nodeName === 'hardBreak' || c.nodeName === 'hard_break');

function inline(el) {
    let s = '';
    for (const c of el.toArray()) {
        if (isText(c)) s += plain(c);
        else if (isBreak(c)) s += '\n';
        else if (isElem(c)) s += inline(c);
    }
    return s;
}

function isTextBlock(el) {
    const kids = el.toArray();
    return kids.some((c) => isText(c) || isBreak(c)) || !kids.some(isElem);
}

function xmlText(frag) {
    let out = '';
    const block = (el, root) => {
        if (!root && isTextBlock(el)) {
            out += inline(el) + '\n';
            return;
        }
        for (const c of el.toArray()) {
            if (isText(c)) out += plain(c) + '\n';
            else if (isElem(c)) block(c, false);
        }
    };
    block(frag, true);
    return out;
}

function expectedText(update) {
    const doc = new Y.Doc();
    Y.applyUpdate(doc, update);
    const roots = [...TEXT_ROOTS.map((n) => [n, 'text']), ...XML_ROOTS.map((n) => [n, 'xml'])];
    roots.sort((a, b) => Buffer.compare(Buffer.from(a[0]), Buffer.from(b[0])));
    const parts = roots.map(([n, kind]) =>
        kind === 'text' ? plain(doc.getText(n)) : xmlText(doc.getXmlFragment(n)));
    return parts.filter((p) => p.length > 0).join('\n');
}

// ---- random editing
function makeEditor(r) {
    const { rnd, ri, pick } = r;
    const rstr = (max = 6) => {
        let s = '';
        for (let i = 0, n = 1 + ri(max); i < n; i++) s += pick(CHARS);
        return s;
    };
    const marks = () => pick([undefined, undefined, { bold: true }, { italic: true },
        { link: { href: 'https://x.org/' + ri(9) } }, { code: true }]);

    const xmlTextNode = (withMarks = true) => {
        const t = new Y.XmlText();
        t.insert(0, rstr(), withMarks ? marks() : undefined);
        return t;
    };
    const paragraph = () => {
        const p = new Y.XmlElement('paragraph');
        const k = ri(5);
        if (k === 0) return p; // empty paragraph
        const kids = [xmlTextNode()];
        if (k === 1) kids.push(new Y.XmlElement('hardBreak'), xmlTextNode());
        if (k === 2) kids.push(new Y.XmlElement('mention'), xmlTextNode());
        if (k === 3 && rnd() < 0.3) kids.unshift(new Y.XmlElement('hardBreak'));
        p.insert(0, kids);
        return p;
    };
    const listItem = (depth) => {
        const li = new Y.XmlElement('listItem');
        const kids = [paragraph()];
        if (depth < 2 && rnd() < 0.3) kids.push(list(depth + 1));
        li.insert(0, kids);
        return li;
    };
    const list = (depth = 0) => {
        const l = new Y.XmlElement(pick(['bulletList', 'orderedList', 'taskList']));
        const items = [];
        for (let i = 0, n = 1 + ri(3); i < n; i++) items.push(listItem(depth));
        l.insert(0, items);
        return l;
    };
    const block = () => {
        switch (ri(9)) {
        case 0: case 1: case 2: return paragraph();
        case 3: {
            const h = new Y.XmlElement('heading');
            h.setAttribute('level', String(1 + ri(3)));
            h.insert(0, [xmlTextNode()]);
            return h;
        }
        case 4: {
            const c = new Y.XmlElement('codeBlock');
            c.setAttribute('language', pick(['js', 'c', null]));
            const t = new Y.XmlText();
            t.insert(0, rstr() + '\n' + rstr());
            c.insert(0, [t]);
            return c;
        }
        case 5: {
            const q = new Y.XmlElement('blockquote');
            q.insert(0, [paragraph(), paragraph()].slice(0, 1 + ri(2)));
            return q;
        }
        case 6: return list();
        case 7: return new Y.XmlElement(pick(['horizontalRule', 'image']));
        default: {
            const p = new Y.XmlElement('hard_break_holder');
            p.insert(0, [xmlTextNode(), new Y.XmlElement('hard_break'), xmlTextNode()]);
            return p;
        }
        }
    };
    // all XmlElement and XmlText nodes of a fragment, depth first
    const nodes = (frag) => {
        const els = [frag];
        const texts = [];
        const walk = (el) => {
            for (const c of el.toArray()) {
                if (c instanceof Y.XmlText) texts.push(c);
                else if (c instanceof Y.XmlElement) { els.push(c); walk(c); }
            }
        };
        walk(frag);
        return { els, texts };
    };
    const editText = (t) => {
        const len = t.length;
        const op = ri(10);
        if (len > 0 && op < 3) {
            const i = ri(len);
            t.delete(i, 1 + ri(Math.min(6, len - i)));
        } else if (len > 1 && op === 3) {
            const i = ri(len - 1);
            const attrs = pick([{ bold: true }, { bold: null }, { italic: {} }]);
            t.format(i, 1 + ri(len - i - 1), attrs);
        } else if (op === 4 && (!(t instanceof Y.XmlText) || rnd() < 0.2)) {
            t.insertEmbed(ri(len + 1), { image: 'x.png' });
        } else {
            t.insert(ri(len + 1), rstr(), rnd() < 0.3 ? marks() : undefined);
        }
    };
    const editXml = (frag) => {
        const { els, texts } = nodes(frag);
        const op = ri(10);
        if (op < 3 || (els.length === 1 && texts.length === 0)) {
            frag.insert(ri(frag.length + 1), [block()]);
        } else if (op < 6 && texts.length > 0) {
            editText(pick(texts));
        } else if (op === 6) {
            const el = pick(els);
            if (el.length > 0) el.delete(ri(el.length), 1);
        } else if (op === 7) {
            const el = pick(els);
            if (el instanceof Y.XmlElement) {
                el.setAttribute(pick(['level', 'class']), String(ri(4)));
            }
        } else if (op === 8) {
            const el = pick(els);
            const kind = el instanceof Y.XmlElement ? el.nodeName : 'root';
            if (kind === 'paragraph' || kind === 'heading') {
                const kid = rnd() < 0.5 ? new Y.XmlElement('hardBreak') : xmlTextNode();
                el.insert(ri(el.length + 1), [kid]);
            } else if (kind === 'listItem' || kind === 'blockquote' || kind === 'root') {
                // mostly well-formed; sometimes text or a break straight in a container
                const k = ri(10);
                const kid = k < 8 ? paragraph() : k === 8 ? xmlTextNode()
                    : new Y.XmlElement(pick(['hardBreak', 'hard_break']));
                el.insert(ri(el.length + 1), [kid]);
            }
        } else if (frag.length > 0) {
            const i = ri(frag.length);
            frag.delete(i, Math.min(1 + ri(2), frag.length - i));
        }
    };
    const editNoise = (d) => {
        if (rnd() < 0.5) {
            const m = d.getMap('map');
            if (rnd() < 0.2) m.delete(pick(['a', 'b']));
            else m.set(pick(['a', 'b']), rnd() < 0.3 ? new Y.Text(rstr()) : ri(100));
        } else {
            const a = d.getArray('arr');
            if (a.length > 0 && rnd() < 0.3) a.delete(ri(a.length), 1);
            else a.insert(ri(a.length + 1), [rstr(), ri(9)]);
        }
    };
    return (docs, d) => {
        const op = ri(12);
        d.transact(() => {
            if (op < 4) editText(d.getText(pick(TEXT_ROOTS)));
            else if (op < 9) editXml(d.getXmlFragment(rnd() < 0.8 ? 'prosemirror' : 'default'));
            else if (op < 10) editNoise(d);
        });
        if (op >= 10) {
            const a = pick(docs);
            const b = pick(docs);
            if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)));
        }
    };
}

// One document set: 2-4 docs edited concurrently; returns the updates to check.
function docSet(r) {
    const { rnd, ri, pick } = r;
    const docs = [];
    for (let i = 0, n = 2 + ri(3); i < n; i++) {
        const d = new Y.Doc({ gc: rnd() < 0.6 });
        let id;
        do id = pick([1 + ri(9), ri(2 ** 31), 2 ** 32 - 1 - ri(1000), ri(2 ** 32)]);
        while (docs.some((x) => x.clientID === id));
        d.clientID = id;
        docs.push(d);
    }
    const events = [];
    docs.forEach((d) => d.on('update', (u) => events.push(u)));
    const edit = makeEditor(r);
    for (let i = 0, n = 15 + ri(60); i < n; i++) edit(docs, pick(docs));
    const out = [];
    out.push(['state', Y.encodeStateAsUpdate(pick(docs))]);
    const shuffled = events.slice().sort(() => rnd() - 0.5);
    out.push(['merge-all', Y.mergeUpdates(shuffled)]);
    const some = shuffled.filter(() => rnd() < 0.6);
    if (some.length > 1) out.push(['merge-some', Y.mergeUpdates(some)]);
    if (events.length) out.push(['event', pick(events)]);
    const full = Y.encodeStateAsUpdate(pick(docs));
    const sv = new Map();
    for (const d of docs) if (rnd() < 0.5) sv.set(d.clientID, ri(8));
    out.push(['diff', Y.diffUpdate(full, Y.encodeStateVector(sv))]);
    for (const d of docs) Y.applyUpdate(docs[0], Y.encodeStateAsUpdate(d));
    out.push(['converged', Y.encodeStateAsUpdate(docs[0])]);
    return out;
}

function runHarness(hexes) {
    const res = spawnSync(HARNESS, [], { input: hexes.join('\n') + '\n', maxBuffer: 1 << 28 });
    assert.equal(res.status, 0, `harness failed: ${res.stderr}`);
    const lines = res.stdout.toString().split('\n');
    lines.pop();
    assert.equal(lines.length, hexes.length, 'harness answered every line');
    return lines;
}

const hex = (u) => Buffer.from(u).toString('hex');

test('extracted text equals the text of the Y.Doc built by yjs, over random seeds', () => {
    const seed = Number(process.env.YJS_TEXT_SEED || (Math.random() * 2 ** 32) >>> 0);
    const r = rng(seed);
    const cases = [];
    for (let s = 0; s < DOCSETS; s++) {
        for (const [kind, u] of docSet(r)) cases.push({ set: s, kind, u, want: expectedText(u) });
    }
    const got = runHarness(cases.map((c) => hex(c.u)));
    let nonEmpty = 0;
    let xmlLines = 0;
    cases.forEach((c, i) => {
        const want = 'ok ' + Buffer.from(c.want, 'utf8').toString('hex');
        if (got[i] !== want) {
            const text = got[i].startsWith('ok ')
                ? JSON.stringify(Buffer.from(got[i].slice(3), 'hex').toString('utf8')) : got[i];
            assert.fail(`seed ${seed} (YJS_TEXT_SEED=${seed}) set ${c.set} ${c.kind}:\n` +
                `  want ${JSON.stringify(c.want)}\n  got  ${text}\n  update ${hex(c.u)}`);
        }
        if (c.want.length) nonEmpty++;
        xmlLines += c.want.split('\n').length;
    });
    // the generator must produce real content, or the comparison proves nothing
    assert.ok(nonEmpty > cases.length / 2, `seed ${seed}: too few non-empty documents`);
    assert.ok(xmlLines > cases.length * 2, `seed ${seed}: too few lines`);
});

test('sioc-yjs text prints the same text as the harness (raw, --hex, JSON array input)', () => {
    const seed = Number(process.env.YJS_TEXT_SEED || (Math.random() * 2 ** 32) >>> 0);
    const r = rng(seed ^ 0x5bd1e995);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yjs-text-'));
    try {
        const sets = [docSet(r), docSet(r)].flat();
        for (const [kind, u] of sets) {
            const want = expectedText(u);
            const file = path.join(dir, 'u.bin');
            fs.writeFileSync(file, u);
            const raw = spawnSync(CLI, ['text', file]);
            assert.equal(raw.status, 0, `seed ${seed} ${kind}: ${raw.stderr} ${raw.error || ''}` +
                ` signal ${raw.signal}`);
            assert.equal(raw.stdout.toString('utf8'), want, `seed ${seed} ${kind}: raw output`);
            fs.writeFileSync(file, JSON.stringify(Array.from(u)));
            const h = spawnSync(CLI, ['text', '--hex', file]);
            assert.equal(h.status, 0, `seed ${seed} ${kind}: ${h.stderr} ${h.error || ''}` +
                ` signal ${h.signal}`);
            assert.equal(h.stdout.toString(), Buffer.from(want).toString('hex') + '\n',
                `seed ${seed} ${kind}: --hex output`);
        }
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});

test('a hand-built Open WebUI note reads as one line per block', () => {
    const doc = new Y.Doc();
    doc.clientID = 7;
    const frag = doc.getXmlFragment('prosemirror');
    const el = (name, kids, attrs = {}) => {
        const e = new Y.XmlElement(name);
        for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
        e.insert(0, kids);
        return e;
    };
    const tx = (s, fmt) => {
        const t = new Y.XmlText();
        t.insert(0, s, fmt);
        return t;
    };
    frag.insert(0, [
        el('heading', [tx('Meeting notes')], { level: 1 }),
        el('paragraph',
            [tx('Hello '), tx('world', { bold: true }), el('hardBreak', []), tx('next')]),
        el('bulletList', [
            el('listItem', [el('paragraph', [tx('one')])]),
            el('listItem', [el('paragraph', [tx('two 😀')]),
                el('bulletList', [el('listItem', [el('paragraph', [tx('nested')])])])]),
        ]),
        el('codeBlock', [tx('int x;\nreturn x;')], { language: 'c' }),
        el('blockquote', [el('paragraph', [tx('quoted')])]),
        el('horizontalRule', []),
        el('paragraph', []),
    ]);
    const want = 'Meeting notes\nHello world\nnext\none\ntwo 😀\nnested\nint x;\nreturn x;\n' +
        'quoted\n\n\n';
    const u = Y.encodeStateAsUpdate(doc);
    assert.equal(expectedText(u), want, 'the JS reading of the rules');
    assert.deepEqual(runHarness([hex(u)]), ['ok ' + Buffer.from(want).toString('hex')]);
});

test('malformed updates give an error, never a crash', () => {
    const doc = new Y.Doc();
    doc.getText('text').insert(0, 'hello 😀');
    const u = Buffer.from(Y.encodeStateAsUpdate(doc));
    const bad = [u.subarray(0, u.length - 3), Buffer.concat([u, Buffer.from([0])]),
        Buffer.from('0000', 'hex').subarray(0, 1), Buffer.from('01ffffffff0f00', 'hex')];
    // every truncation of a real update
    for (let i = 0; i < u.length - 1; i++) bad.push(u.subarray(0, i));
    const got = runHarness(bad.map(hex));
    got.forEach((line, i) => assert.match(line, /^err \w+ /, `input ${hex(bad[i])}`));
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'yjs-text-'));
    try {
        const file = path.join(dir, 'bad.bin');
        fs.writeFileSync(file, bad[1]);
        const res = spawnSync(CLI, ['text', file]);
        assert.equal(res.status, 1, 'exit status 1 on malformed input');
        assert.ok(res.stderr.length > 0, 'a message on stderr');
        assert.equal(res.stdout.length, 0, 'nothing on stdout');
    } finally {
        fs.rmSync(dir, { recursive: true, force: true });
    }
});
