// Merge of many updates of whole editing sessions, checked against the real `yjs`
// package two ways:
//  - bytes: the C merge (build/yjs-vectors batch checker) equals Y.mergeUpdates on the
//    same inputs, including lists of 64+ updates mixed with garbage-collected full
//    states, where yjs's comparator ties a GC with an Item and only V8's TimSort
//    decides (spec 3.4), and Open WebUI's compaction pattern (a merged prefix + the rest);
//  - semantics: the C merge output (build/sioc-yjs merge) applied to a fresh Y.Doc
//    gives the same document as applying the inputs one by one.
// Seeds vary per run (SIOC_YJS_SEED pins one); the seed is printed on failure.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as Y from 'yjs'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const build = path.resolve(root, process.env.SIOC_BUILD || 'build')
const seed0 = Number(process.env.SIOC_YJS_SEED || (Date.now() % 1000000007))

const rng = seed => {
  let s = seed >>> 0
  const rnd = () => { // mulberry32
    s = (s + 0x6D2B79F5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
  const ri = n => Math.floor(rnd() * n)
  return { rnd, ri, pick: a => a[ri(a.length)] }
}
const hex = u => Buffer.from(u).toString('hex')

// An editing session: 2-3 peers with unique client ids, gc on for some, editing a
// prosemirror-like XML fragment, a text, a map holding nested texts (overwritten, so
// their children are garbage collected) and an array; occasional syncs. `emoji` adds
// astral characters (byte tests only: splitting them changes bytes, spec P1).
function session (seed, nOps, emoji) {
  const { rnd, ri, pick } = rng(seed)
  const chars = emoji ? ['a', 'b', 'é', '中', '😀', ' ', '\n'] : ['a', 'b', 'c', 'é', '中', ' ', '\n']
  const rstr = () => { let r = ''; for (let i = 0, n = 1 + ri(4); i < n; i++) r += pick(chars); return r }
  const docs = []
  for (let i = 0, n = 2 + ri(2); i < n; i++) {
    const d = new Y.Doc({ gc: i === 0 || rnd() < 0.5 })
    let cid
    do { cid = pick([1 + ri(9), ri(2 ** 31), 2 ** 32 - 1 - ri(100), ri(2 ** 32)]) } while (docs.some(x => x.clientID === cid))
    d.clientID = cid
    docs.push(d)
  }
  const events = []
  docs.forEach(d => d.on('update', u => events.push(u)))
  for (let k = 0; k < nOps; k++) {
    const d = pick(docs)
    const op = ri(10)
    if (op < 4) {
      const f = d.getXmlFragment('prosemirror')
      if (f.length > 0 && rnd() < 0.2) f.delete(ri(f.length), 1)
      else if (f.length > 0 && rnd() < 0.7) {
        const el = f.get(ri(f.length))
        const tx = el instanceof Y.XmlElement && el.length > 0 ? el.get(0) : null
        if (tx instanceof Y.XmlText) {
          if (tx.length > 2 && rnd() < 0.3) tx.delete(ri(tx.length - 1), 1 + ri(2))
          else tx.insert(ri(tx.length + 1), rstr(), rnd() < 0.2 ? { bold: true } : undefined)
        } else if (el instanceof Y.XmlElement) el.setAttribute('level', String(ri(4)))
      } else {
        const el = new Y.XmlElement(pick(['paragraph', 'heading']))
        f.insert(ri(f.length + 1), [el])
        const x = new Y.XmlText()
        el.insert(0, [x])
        x.insert(0, rstr())
      }
    } else if (op < 6) {
      const t = d.getText('text')
      if (t.length > 0 && rnd() < 0.3) { const i = ri(t.length); t.delete(i, 1 + ri(Math.min(3, t.length - i))) } else t.insert(ri(t.length + 1), rstr())
    } else if (op < 8) {
      const m = d.getMap('map')
      const key = pick(['a', 'b', 'c'])
      if (rnd() < 0.5) { const t = new Y.Text(); m.set(key, t); t.insert(0, rstr()); t.insert(0, rstr()) } else if (rnd() < 0.3) m.delete(key); else m.set(key, ri(100))
    } else {
      const a = d.getArray('arr')
      if (a.length > 0 && rnd() < 0.3) a.delete(ri(a.length), 1); else a.insert(ri(a.length + 1), [ri(1000), rstr()])
    }
    if (rnd() < 0.1) {
      const a = pick(docs); const b = pick(docs)
      if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
    }
  }
  for (const a of docs) for (const b of docs) if (a !== b) Y.applyUpdate(b, Y.encodeStateAsUpdate(a, Y.encodeStateVector(b)))
  return { events, fulls: docs.map(d => Y.encodeStateAsUpdate(d)) }
}

// Merge inputs: a long run of events (in order, or shuffled), full states at random
// places (GC'd ones tie with events), sometimes an already merged prefix.
function mergeInputs (seed, s) {
  const { rnd, ri, pick } = rng(seed ^ 0x5bd1e995)
  let inp = s.events.slice()
  if (rnd() < 0.4) for (let i = inp.length - 1; i > 0; i--) { const j = ri(i + 1); [inp[i], inp[j]] = [inp[j], inp[i]] }
  if (rnd() < 0.5) inp = inp.slice(ri(Math.max(1, inp.length >> 2)))
  for (let i = 0, n = 1 + ri(2); i < n; i++) inp.splice(ri(inp.length + 1), 0, pick(s.fulls))
  if (rnd() < 0.3) { const k = 1 + ri(inp.length - 1); inp = [Y.mergeUpdates(inp.slice(0, k)), ...inp.slice(k)] }
  if (rnd() < 0.2) inp.push(new Uint8Array([0, 0]))
  return inp
}

const view = d => JSON.stringify({
  text: d.getText('text').toDelta(),
  map: Object.entries(d.getMap('map').toJSON()).sort(),
  arr: d.getArray('arr').toJSON(),
  xml: d.getXmlFragment('prosemirror').toString()
})

function runVectors (lines) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sioc-yjs-'))
  const file = path.join(dir, 'cases.txt')
  fs.writeFileSync(file, lines.join('\n') + '\n')
  if (process.env.SIOC_YJS_DUMP) fs.appendFileSync(process.env.SIOC_YJS_DUMP, lines.join('\n') + '\n')
  const r = spawnSync(path.join(build, 'yjs-vectors'), [file], { encoding: 'utf8', maxBuffer: 1 << 26 })
  fs.rmSync(dir, { recursive: true, force: true })
  return r
}

test(`merges of whole sessions are byte-identical to Y.mergeUpdates (seed ${seed0})`, () => {
  const lines = []
  let inputs = 0
  for (let c = 0; c < 60; c++) {
    const seed = seed0 + c
    const s = session(seed, 40 + (c % 4) * 40, c % 2 === 0)
    for (let k = 0; k < 3; k++) {
      const inp = mergeInputs(seed * 7 + k, s)
      inputs += inp.length
      lines.push(`#seed ${seed0} session ${c} merge ${k} (${inp.length} inputs)`)
      lines.push(`M ${hex(Y.mergeUpdates(inp))} ${inp.map(hex).join(' ')}`)
    }
  }
  const r = runVectors(lines)
  assert.equal(r.status, 0, `seed ${seed0}: ${r.stdout}${r.stderr}`)
  assert.match(r.stdout, / 180 passed, 0 failed/, `seed ${seed0}: ${r.stdout}`)
  assert.ok(inputs > 180 * 20, 'sessions should produce long input lists')
})

test(`C merge output applied to a fresh Y.Doc equals the inputs applied (seed ${seed0})`, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sioc-yjs-'))
  try {
    for (let c = 0; c < 16; c++) {
      const seed = seed0 + 1000 + c
      const s = session(seed, 60 + c * 10, false)
      const inp = mergeInputs(seed, s)
      const files = inp.map((u, i) => {
        const f = path.join(dir, `u${i}`)
        // exercise all three input forms of the CLI
        fs.writeFileSync(f, i % 3 === 0 ? Buffer.from(u) : i % 3 === 1 ? hex(u) + '\n' : JSON.stringify(Array.from(u)))
        return f
      })
      const out = execFileSync(path.join(build, 'sioc-yjs'), ['merge', ...files], { maxBuffer: 1 << 26 })
      const merged = new Y.Doc()
      Y.applyUpdate(merged, new Uint8Array(out))
      const oneByOne = new Y.Doc()
      for (const u of inp) Y.applyUpdate(oneByOne, u)
      const full = new Y.Doc()
      for (const f of s.fulls) Y.applyUpdate(full, f)
      assert.equal(view(merged), view(oneByOne), `seed ${seed0} case ${c}: merged doc differs from the inputs applied`)
      assert.equal(view(oneByOne), view(full), `seed ${seed0} case ${c}: generator sanity`)
      assert.equal(merged.store.pendingStructs, null, `seed ${seed0} case ${c}: nothing pending`)
      assert.ok(Buffer.from(out).equals(Buffer.from(Y.mergeUpdates(inp))), `seed ${seed0} case ${c}: bytes`)
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test(`compacting in batches (Open WebUI's pattern) matches yjs step by step (seed ${seed0})`, () => {
  // the server keeps one merged buffer and folds each batch of new updates into it
  const lines = []
  for (let c = 0; c < 8; c++) {
    const s = session(seed0 + 2000 + c, 150, true)
    let state = new Uint8Array([0, 0])
    for (let i = 0; i < s.events.length; i += 37) {
      const inp = [state, ...s.events.slice(i, i + 37)]
      const out = Y.mergeUpdates(inp)
      lines.push(`#seed ${seed0} batch session ${c} at ${i}`)
      lines.push(`M ${hex(out)} ${inp.map(hex).join(' ')}`)
      state = out
    }
    const d = new Y.Doc()
    Y.applyUpdate(d, state)
    const e = new Y.Doc()
    for (const f of s.fulls) Y.applyUpdate(e, f)
    assert.equal(view(d), view(e), `seed ${seed0}: batched state differs`)
  }
  const r = runVectors(lines)
  assert.equal(r.status, 0, `seed ${seed0}: ${r.stdout}${r.stderr}`)
})
