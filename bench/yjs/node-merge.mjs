// The Node side of the Yjs merge benchmark: Y.mergeUpdates (yjs from node_modules) on
// an update list written by bench/yjs/gen.mjs, timed the same way as
// build/bench/yjs_bench does it for the C merge.
//
//   node bench/yjs/node-merge.mjs FILE [--batch N] [--repeat R] [--out OUT]
//
// Without --batch: one merge of the whole list. With --batch N: the server's
// compaction pattern, state = mergeUpdates([state, next N updates]) until the list is
// used up (state starts as the empty document 00 00). Prints one line of key=value
// pairs: ms (best of R runs) and its CPU time (all of the process's threads), out
// bytes, extra peak RSS during the first run, and
// writes the final merged update to OUT for the byte comparison.
import fs from 'node:fs'
import * as Y from 'yjs'

const args = process.argv.slice(2)
const opt = (name, dflt) => { const i = args.indexOf(name); return i >= 0 ? args[i + 1] : dflt }
const file = args[0]
const batch = Number(opt('--batch', 0))
const repeat = Number(opt('--repeat', 3))
const outFile = opt('--out', null)

const buf = fs.readFileSync(file)
if (buf.toString('latin1', 0, 4) !== 'YJSB') throw new Error('not a YJSB update list')
const n = buf.readUInt32LE(4)
const list = []
for (let i = 0, off = 8; i < n; i++) {
  const len = buf.readUInt32LE(off); off += 4
  list.push(new Uint8Array(buf.buffer, buf.byteOffset + off, len)); off += len
}

function run () {
  if (!batch) return Y.mergeUpdates(list)
  let state = new Uint8Array([0, 0])
  for (let i = 0; i < list.length; i += batch) state = Y.mergeUpdates([state, ...list.slice(i, i + batch)])
  return state
}

const rssNow = () => Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096
if (global.gc) global.gc()
const before = rssNow()
let best = Infinity
let bestCpu = 0
let out = null
let peak = 0
for (let r = 0; r < repeat; r++) {
  const c0 = process.cpuUsage()
  const t0 = process.hrtime.bigint()
  out = run()
  const ms = Number(process.hrtime.bigint() - t0) / 1e6
  const c = process.cpuUsage(c0)
  if (r === 0) peak = process.resourceUsage().maxRSS * 1024 - before
  if (ms < best) { best = ms; bestCpu = (c.user + c.system) / 1000 }
}
if (outFile) fs.writeFileSync(outFile, out)
console.log(`impl=node updates=${n} batch=${batch} ms=${best.toFixed(2)} cpu_ms=${bestCpu.toFixed(2)} out_bytes=${out.length} extra_peak_rss=${Math.max(peak, 0)}`)
