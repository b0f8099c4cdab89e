// Byte-exact vectors for the C Yjs codec (src/yjs), generated at test time from the real
// `yjs` package (13.6.x in node_modules) by the shared generator
// ../shared/spec/yjs-ref/gen_vectors.mjs, in both its modes:
//  - mixed: random subsets of update events, full states and diffs, merged updates,
//    the empty update; text with emoji cut inside surrogate pairs, formatting, embeds,
//    maps, arrays, XML elements, deletes, gc on and off;
//  - overlap: events first and a full state last (ties and slices).
// Every merge, diff and state vector must be byte-identical (checked by build/yjs-vectors
// in one process). Also: the spec's worked examples recomputed by yjs, decode/encode
// round trips of every generated update, rejection of truncated / extended / v2 updates,
// and the V8 TimSort port against V8's own Array.prototype.sort with yjs's inconsistent
// comparator. Seeds vary per run (SIOC_YJS_SEED pins them) and are printed on failure;
// SIOC_YJS_CASES sets the generator's case count per mode (default 200).
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import * as Y from 'yjs'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const build = path.resolve(root, process.env.SIOC_BUILD || 'build')
const shared = path.resolve(root, process.env.SIOC_SHARED || '../shared')
const generator = path.join(shared, 'spec/yjs-ref/gen_vectors.mjs')
const seed0 = Number(process.env.SIOC_YJS_SEED || (Date.now() % 1000000007))
const nCases = Number(process.env.SIOC_YJS_CASES || 200)
const hex = u => Buffer.from(u).toString('hex')
const unhex = h => new Uint8Array(Buffer.from(h.replace(/ /g, ''), 'hex'))

// The generator imports 'yjs', which ESM resolves from the script's own folder, so it
// runs from a scratch folder inside node_modules (resolution walks up to our yjs).
function generate (dir, seed, mode) {
  const out = path.join(dir, `${mode}-${seed}.json`)
  execFileSync(process.execPath, [path.join(dir, 'gen.mjs'), String(seed), String(nCases), out, mode],
    { stdio: ['ignore', 'ignore', 'inherit'] })
  return JSON.parse(fs.readFileSync(out, 'utf8'))
}

function runVectors (dir, lines) {
  const file = path.join(dir, 'cases.txt')
  fs.writeFileSync(file, lines.join('\n') + '\n')
  return spawnSync(path.join(build, 'yjs-vectors'), [file], { encoding: 'utf8', maxBuffer: 1 << 26 })
}

const scratch = () => {
  const base = path.join(root, 'node_modules', '.cache')
  fs.mkdirSync(base, { recursive: true })
  return fs.mkdtempSync(path.join(base, 'sioc-yjs-'))
}

test(`generated merges, diffs and state vectors are byte-identical to yjs (seed ${seed0})`, () => {
  assert.ok(fs.existsSync(generator), `vector generator not found at ${generator}`)
  const dir = scratch()
  try {
    fs.copyFileSync(generator, path.join(dir, 'gen.mjs'))
    const lines = []
    const inputs = new Set()
    let merges = 0; let diffs = 0; let svs = 0
    for (const [mode, seed] of [['mixed', seed0], ['overlap', seed0 + 1]]) {
      generate(dir, seed, mode).forEach((c, i) => {
        lines.push(`#${mode} seed ${seed} case ${i}`)
        for (const m of c.merges) {
          lines.push(`M ${m.out} ${m.in.join(' ')}`, `S ${m.sv} ${m.out}`)
          merges++; svs++
          m.in.forEach(h => inputs.add(h))
          inputs.add(m.out)
        }
        for (const d of c.diffs) { lines.push(`D ${d.out} ${d.in} ${d.sv}`); diffs++ }
        for (const s of c.svs) { lines.push(`S ${s.out} ${s.in}`); svs++ }
      })
    }
    // every distinct update decodes and re-encodes to itself; damaged copies are rejected
    let n = 0
    for (const h of inputs) {
      lines.push(`R ${h}`)
      if (n++ % 7 === 0 && h.length > 4) {
        const cut = 2 * (1 + ((n * 7919) % (h.length / 2 - 1)))
        lines.push(`E ${h.slice(0, cut)}`, `E ${h}00`, `E ${h}${h}`)
      }
    }
    const r = runVectors(dir, lines)
    const msg = `seeds ${seed0}/${seed0 + 1} (rerun with SIOC_YJS_SEED=${seed0}):\n${r.stdout}${r.stderr}`
    assert.equal(r.status, 0, msg)
    const m = /(\d+) passed, (\d+) failed/.exec(r.stdout)
    assert.ok(m && Number(m[2]) === 0, msg)
    assert.ok(merges >= 16 * nCases - 16 && diffs >= 16 * nCases - 16 && svs > 0, 'vector counts')
    assert.ok(Number(m[1]) > merges + diffs + svs, msg)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test('worked examples of the spec, recomputed by yjs', () => {
  const merges = [
    ['01 01 01 00 04 01 01 74 01 61 00', '01 01 01 01 84 01 00 01 62 00', '01 01 01 02 84 01 01 01 63 00'],
    ['01 01 02 00 28 01 01 6d 01 6b 01 7d 01 00', '01 01 02 01 a8 02 00 01 7d 02 01 02 01 00 01'],
    ['01 01 07 00 04 01 01 74 01 78 00', '01 01 07 02 84 07 01 01 7a 00'],
    ['01 01 08 00 00 03 00', '01 01 08 03 00 02 00'],
    ['01 02 08 00 00 03 00 02 00', '00 00'],
    ['01 01 05 00 04 01 01 74 03 68 65 6c 00', '01 01 05 00 04 01 01 74 05 68 65 6c 6c 6f 00'],
    ['01 01 05 00 04 01 01 74 05 68 65 6c 6c 6f 00', '01 01 05 00 04 01 01 74 03 68 65 6c 00'],
    ['00 02 05 02 04 02 00 01 03 01 07 01', '00 01 05 01 01 03'],
    ['00 01 05 00', '00 01 05 00'],
    ['02 01 01 00 04 01 01 74 01 61 01 02 00 04 01 01 74 01 62 00', '01 01 03 00 04 01 01 74 01 63 00'],
    ['01 01 09 00 04 01 01 74 04 61 ef bf bd 00', '01 01 09 00 04 01 01 74 06 61 f0 9f 98 80 62 00'],
    ['01 02 02 00 28 01 01 6d 01 6b 01 7d 01 88 02 00 01 7d 02 01 02 01 00 01']
  ]
  const diffs = [
    ['01 01 09 00 04 01 01 74 06 61 f0 9f 98 80 62 00', '01 09 02'],
    ['01 01 02 01 a8 02 00 01 7d 02 01 02 01 00 01', '00'],
    ['00 03 05 02 04 02 00 01 07 01 00 01 05 01 01 03', '01 05 09'],
    ['01 01 09 00 04 01 01 74 06 61 f0 9f 98 80 62 00', '02 09 04 09 01']
  ]
  const svs = ['01 03 07 00 04 01 01 74 01 78 0a 01 84 07 01 01 7a 00', '01 01 07 02 84 07 01 01 7a 00',
    '01 01 07 00 0a 02 00', '00 00']
  const lines = ['#spec examples']
  for (const m of merges) lines.push(`M ${hex(Y.mergeUpdates(m.map(unhex)))} ${m.map(s => s.replace(/ /g, '')).join(' ')}`)
  lines.push(`M ${hex(Y.mergeUpdates([]))} `.trimEnd())
  for (const [u, sv] of diffs) lines.push(`D ${hex(Y.diffUpdate(unhex(u), unhex(sv)))} ${u.replace(/ /g, '')} ${sv.replace(/ /g, '')}`)
  for (const u of svs) lines.push(`S ${hex(Y.encodeStateVectorFromUpdate(unhex(u)))} ${u.replace(/ /g, '')}`)
  // a v2 update is not a v1 update (spec 2.7)
  const d = new Y.Doc()
  d.getText('t').insert(0, 'ab')
  d.getMap('m').set('k', 1)
  lines.push(`E ${hex(Y.encodeStateAsUpdateV2(d))}`, `R ${hex(Y.encodeStateAsUpdate(d))}`)
  assert.equal(hex(Y.mergeUpdates([])), '0000', 'the empty document')
  const dir = scratch()
  try {
    const r = runVectors(dir, lines.filter(l => l !== 'M 0000'))
    assert.equal(r.status, 0, r.stdout + r.stderr)
    assert.match(r.stdout, / 0 failed/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})

test(`TimSort port sorts exactly as V8 with yjs's comparator (seed ${seed0})`, () => {
  let s = seed0 >>> 0
  const rnd = () => { s = (s + 0x6D2B79F5) >>> 0; let t = s; t = Math.imul(t ^ (t >>> 15), t | 1); t ^= t + Math.imul(t ^ (t >>> 7), t | 61); return ((t ^ (t >>> 14)) >>> 0) / 4294967296 }
  const ri = n => Math.floor(rnd() * n)
  const cmp = (a, b) => { // yjs updates.js, mergeUpdatesV2's reader comparator on keys
    if (a.client === b.client) {
      const d = a.clock - b.clock
      return d === 0 ? (a.kind === b.kind ? 0 : a.kind === 2 ? 1 : -1) : d
    }
    return b.client - a.client
  }
  const lines = [`#timsort seed ${seed0}`]
  for (let c = 0; c < 400; c++) {
    const n = 2 + ri(rnd() < 0.5 ? 70 : 1200)
    const nc = 1 + ri(4); const nk = 1 + ri(rnd() < 0.5 ? 3 : 60)
    const keys = []
    for (let i = 0; i < n; i++) keys.push({ client: ri(nc), clock: ri(nk), kind: ri(12) === 0 ? 2 : ri(2) })
    if (rnd() < 0.5) { // nearly sorted, as merge's reader array is between steps
      keys.sort(cmp)
      for (let k = 0; k < 3; k++) keys.unshift(keys.splice(ri(n), 1)[0])
    }
    const idx = keys.map((_, i) => i).sort((x, y) => cmp(keys[x], keys[y]))
    lines.push(`T ${idx.join(',')} ${keys.map(k => `${k.client}:${k.clock}:${k.kind}`).join(',')}`)
  }
  const dir = scratch()
  try {
    const r = runVectors(dir, lines)
    assert.equal(r.status, 0, `seed ${seed0}: ${r.stdout}${r.stderr}`)
    assert.match(r.stdout, / 400 passed, 0 failed/)
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
})
