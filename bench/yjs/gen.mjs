// Generates the Yjs merge benchmark inputs with the real `yjs` package (node_modules).
//
//   node bench/yjs/gen.mjs session N OUT   N small updates of one Open WebUI-like
//                                          editing session: two peers typing into a
//                                          `prosemirror` XmlFragment (paragraphs of
//                                          XmlText, Enter, backspace, bold, cursor
//                                          jumps), every keystroke its own update,
//                                          relayed to the other peer as a server does
//   node bench/yjs/gen.mjs trace N OUT     a long typing trace of N operations on a
//                                          Y.Text: typing at the cursor, backspace,
//                                          cursor moves, selections deleted, pastes
//   node bench/yjs/gen.mjs chunks K IN OUT the list IN regrouped: every K consecutive
//                                          updates merged into one (as a client that
//                                          sends its edits in batches)
//
// OUT is a list of updates: "YJSB", u32 count, then per update u32 length + bytes
// (little-endian), read by bench/yjs_bench.c and bench/yjs/node-merge.mjs.
// The random generator is seeded, so the inputs are the same on every run.
import fs from 'node:fs'
import * as Y from 'yjs'

const [kind, nArg, ...rest] = process.argv.slice(2)
const out = rest.at(-1)
const N = Number(nArg)
if (!['session', 'trace', 'chunks'].includes(kind) || !(N > 0) || !out) {
  console.error('usage: node bench/yjs/gen.mjs session|trace N OUT | chunks K IN OUT')
  process.exit(2)
}

let seed = kind === 'session' ? 20250601 : 20250602
const rnd = () => { // mulberry32
  seed = (seed + 0x6D2B79F5) >>> 0
  let t = seed
  t = Math.imul(t ^ (t >>> 15), t | 1)
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296
}
const ri = n => Math.floor(rnd() * n)
const letters = 'eeeeeeetttttaaaaoooiiinnnssshhrrdlcumwfgypbvk     ,.'
const typed = () => rnd() < 0.002 ? '😀' : rnd() < 0.01 ? 'é' : letters[ri(letters.length)]

function session () {
  const updates = []
  const peers = [new Y.Doc(), new Y.Doc()]
  peers[0].clientID = 1843279301
  peers[1].clientID = 3926148575
  peers.forEach((d, i) => d.on('update', (u, origin) => {
    if (origin === 'remote') return
    updates.push(u)
    Y.applyUpdate(peers[1 - i], u, 'remote') // the server relays every update
  }))
  const cursors = [{ p: 0, o: 0 }, { p: 0, o: 0 }]
  const frag0 = peers[0].getXmlFragment('prosemirror')
  peers[0].transact(() => { // the first peer seeds an empty paragraph
    const p = new Y.XmlElement('paragraph'); frag0.insert(0, [p]); p.insert(0, [new Y.XmlText()])
  })
  while (updates.length < N) {
    const who = rnd() < 0.7 ? 0 : 1
    const d = peers[who]
    const frag = d.getXmlFragment('prosemirror')
    const c = cursors[who]
    if (c.p >= frag.length) { c.p = frag.length - 1; c.o = 0 }
    const para = frag.get(c.p)
    const text = para.get(0)
    if (c.o > text.length) c.o = text.length
    const r = rnd()
    if (r < 0.82) { const s = typed(); text.insert(c.o, s, rnd() < 0.05 ? { bold: true } : undefined); c.o += s.length } else if (r < 0.9) {
      if (c.o > 0) { text.delete(c.o - 1, 1); c.o-- }
    } else if (r < 0.94) { // Enter: a new paragraph after this one
      const p = new Y.XmlElement(rnd() < 0.1 ? 'heading' : 'paragraph')
      d.transact(() => { frag.insert(c.p + 1, [p]); p.insert(0, [new Y.XmlText()]) })
      c.p++; c.o = 0
    } else if (r < 0.98) { c.p = ri(frag.length); c.o = ri(frag.get(c.p).get(0).length + 1) } else if (text.length > 4) {
      const a = ri(text.length - 2); text.format(a, 1 + ri(Math.min(8, text.length - a)), { italic: true })
    }
  }
  return updates.slice(0, N)
}

function trace () {
  const updates = []
  const d = new Y.Doc()
  d.clientID = 2718281828
  d.on('update', u => updates.push(u))
  const t = d.getText('text')
  let cur = 0
  for (let i = 0; i < N; i++) {
    const r = rnd()
    const len = t.length
    if (cur > len) cur = len
    if (r < 0.83) { const s = typed(); t.insert(cur, s); cur += s.length } else if (r < 0.93) {
      if (cur > 0) { t.delete(cur - 1, 1); cur-- } else t.insert(cur, 'x')
    } else if (r < 0.97) { cur = ri(len + 1) } else if (r < 0.99 && len > 40) {
      const a = ri(len - 30); t.delete(a, 2 + ri(28)); cur = a
    } else {
      let s = ''; for (let k = 0, n = 10 + ri(40); k < n; k++) s += typed()
      t.insert(cur, s); cur += s.length
    }
  }
  return updates
}

function readList (file) {
  const b = fs.readFileSync(file)
  if (b.toString('latin1', 0, 4) !== 'YJSB') throw new Error(`${file}: not a YJSB list`)
  const l = []
  for (let i = 0, off = 8, n = b.readUInt32LE(4); i < n; i++) {
    const len = b.readUInt32LE(off)
    l.push(new Uint8Array(b.buffer, b.byteOffset + off + 4, len))
    off += 4 + len
  }
  return l
}

function chunks () {
  const src = readList(rest[0])
  const l = []
  for (let i = 0; i < src.length; i += N) l.push(Y.mergeUpdates(src.slice(i, i + N)))
  return l
}

const list = kind === 'session' ? session() : kind === 'trace' ? trace() : chunks()
const total = list.reduce((n, u) => n + u.length, 0)
const buf = Buffer.alloc(8 + 4 * list.length + total)
buf.write('YJSB', 0, 'latin1')
buf.writeUInt32LE(list.length, 4)
let off = 8
for (const u of list) { buf.writeUInt32LE(u.length, off); off += 4; buf.set(u, off); off += u.length }
fs.writeFileSync(out, buf)
console.error(`gen: ${kind}: ${list.length} updates, ${total} bytes -> ${out}`)
