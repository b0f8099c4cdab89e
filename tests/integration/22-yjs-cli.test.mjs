// build/sioc-yjs, the command-line tool over the C Yjs codec: input forms (raw, hex
// with whitespace, JSON integer arrays as Open WebUI stores them), --hex output,
// inspect, merge (a single update comes back unchanged), diff, sv, text, and the
// exit status and message for malformed input and bad usage. Expected values come
// from the real `yjs` package.
import { test } from 'node:test'
import assert from 'node:assert/strict'
import { spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import * as Y from 'yjs'

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../..')
const cli = path.join(path.resolve(root, process.env.SIOC_BUILD || 'build'), 'sioc-yjs')
const hex = u => Buffer.from(u).toString('hex')
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sioc-yjs-cli-'))
let nfile = 0
const file = content => {
  const f = path.join(dir, `f${nfile++}`)
  fs.writeFileSync(f, content)
  return f
}
const run = (args, input) => spawnSync(cli, args, { input, maxBuffer: 1 << 24 })

// a small history: two peers typing into a text and a map, and a prosemirror fragment
const events = []
const a = new Y.Doc(); a.clientID = 11
const b = new Y.Doc(); b.clientID = 22
a.on('update', u => events.push(u))
b.on('update', u => events.push(u))
a.getText('t').insert(0, 'hello 😀')
Y.applyUpdate(b, Y.encodeStateAsUpdate(a))
b.getText('t').insert(6, 'big ')
a.getMap('m').set('k', 1)
a.getMap('m').set('k', 2)
const p = new Y.XmlElement('paragraph')
a.getXmlFragment('prosemirror').insert(0, [p])
const xt = new Y.XmlText()
p.insert(0, [xt])
xt.insert(0, 'para')
b.getText('t').delete(0, 1)

test.after(() => fs.rmSync(dir, { recursive: true, force: true }))

test('merge accepts raw, hex and JSON-array inputs and matches Y.mergeUpdates', () => {
  const forms = events.map((u, i) => [
    Buffer.from(u),
    ' ' + hex(u).replace(/(.{6})/g, '$1 \n') + '\n',
    JSON.stringify(Array.from(u)),
    '[' + Array.from(u).join(', ') + ']\n'
  ][i % 4])
  const files = forms.map(file)
  const want = Buffer.from(Y.mergeUpdates(events))
  const raw = run(['merge', ...files])
  assert.equal(raw.status, 0, raw.stderr.toString())
  assert.ok(raw.stdout.equals(want), 'raw output')
  const h = run(['merge', '--hex', ...files])
  assert.equal(h.stdout.toString(), hex(want) + '\n', 'lowercase hex and a newline')
  const viaStdin = run(['merge', '--hex', '-', files[1]], Buffer.from(events[0]))
  assert.equal(viaStdin.stdout.toString(), hex(Y.mergeUpdates([events[0], events[1]])) + '\n')
})

test('merge of a single update returns it unchanged', () => {
  const ev = events.find(u => u.includes(0xa8)) || events[3] // map overwrite, info a8
  const r = run(['merge', file(Buffer.from(ev))])
  assert.equal(r.status, 0)
  assert.ok(r.stdout.equals(Buffer.from(ev)))
  assert.ok(r.stdout.equals(Buffer.from(Y.mergeUpdates([ev]))))
})

test('sv and diff match yjs', () => {
  const full = Y.encodeStateAsUpdate(a)
  const f = file(hex(full))
  const sv = run(['sv', '--hex', f])
  assert.equal(sv.status, 0)
  assert.equal(sv.stdout.toString(), hex(Y.encodeStateVectorFromUpdate(full)) + '\n')
  const svb = Y.encodeStateVector(b)
  const d = run(['diff', f, file(JSON.stringify(Array.from(svb)))])
  assert.equal(d.status, 0, d.stderr.toString())
  assert.ok(d.stdout.equals(Buffer.from(Y.diffUpdate(full, svb))))
})

test('inspect prints structs and the delete set', () => {
  const r = run(['inspect', file(hex(Y.mergeUpdates(events)))])
  assert.equal(r.status, 0, r.stderr.toString())
  const out = r.stdout.toString()
  assert.match(out, /^update: \d+ bytes, \d+ groups, \d+ structs/)
  assert.match(out, /group \d+: client 22, clock 0/)
  assert.match(out, /\(11,0\) len 8 Item info=0x04 parent="t" String "hello 😀"/)
  assert.match(out, /Type YXmlElement "paragraph"/)
  assert.match(out, /key="k" Any \[1\]/)
  assert.match(out, /info=0x88 origin=\(11,8\) Any \[2\]/) // a8 on the wire, 88 once merged
  assert.match(out, /\(22,0\) len 4 Item info=0xc4 origin=\(11,5\) right=\(11,6\) String "big "/)
  assert.match(out, /delete set:\n {2}client 11: \[0,1\) \[8,9\)\n$/)
})

test('text prints the document text', () => {
  const doc = new Y.Doc()
  doc.getText('t').insert(0, 'plain words')
  const r = run(['text', file(Buffer.from(Y.encodeStateAsUpdate(doc)))])
  assert.equal(r.status, 0, r.stderr.toString())
  assert.equal(r.stdout.toString(), 'plain words')
  const merged = run(['text', file(hex(Y.mergeUpdates(events)))])
  assert.equal(merged.status, 0, merged.stderr.toString())
  assert.match(merged.stdout.toString(), /ello big 😀/)
  assert.match(merged.stdout.toString(), /para/)
})

test('malformed input exits 1 with the decoder message and writes nothing', () => {
  const good = file(Buffer.from(events[0]))
  const cases = [
    [Buffer.from(events[0]).subarray(0, 9), /invalid \((truncated|length)\): byte \d+: /],
    [Buffer.concat([Buffer.from(events[0]), Buffer.from([0])]), /invalid \(trailing\): byte \d+: 1 trailing bytes/],
    [Buffer.from('01010100 0b 00'.replace(/ /g, ''), 'hex'), /invalid \(content\): byte 4: invalid struct info byte 0x0b/],
    ['[1, 1, 1, 0, 4, 1, 1, 116, 1, 255, 0]', /invalid \(utf8\): byte 9: invalid UTF-8/],
    [Buffer.from(Y.encodeStateAsUpdateV2(a)), /invalid \(trailing\)/]
  ]
  for (const [content, re] of cases) {
    const bad = file(content)
    for (const args of [['merge', good, bad], ['merge', bad], ['sv', bad], ['inspect', bad], ['diff', bad, file('00')]]) {
      const r = run(args)
      assert.equal(r.status, 1, `${args[0]}: ${r.stderr}`)
      assert.equal(r.stdout.length, 0, `${args[0]}: nothing on stdout`)
      const err = r.stderr.toString()
      assert.ok(err.includes(bad), `${args[0]}: names the file: ${err}`)
      assert.match(err, re, args[0])
    }
  }
  const badSv = run(['diff', good, file('01 05')])
  assert.equal(badSv.status, 1)
  assert.match(badSv.stderr.toString(), /invalid \(length\)/)
})

test('usage errors exit 2', () => {
  assert.equal(run([]).status, 2)
  assert.equal(run(['frobnicate', file('0000')]).status, 2)
  assert.equal(run(['diff', file('0000')]).status, 2)
  assert.equal(run(['sv', file('0000'), file('0000')]).status, 2)
  assert.equal(run(['merge']).status, 2)
  assert.equal(run(['--help']).status, 0)
  const missing = run(['sv', path.join(dir, 'does-not-exist')])
  assert.equal(missing.status, 1)
  assert.match(missing.stderr.toString(), /does-not-exist/)
})
