#!/usr/bin/env node
// ONNX Runtime (onnxruntime-node, CPU execution provider) peer for clip.c's speed comparison
// (bench/run_peers.sh). Runs the ViT-B/32 image and text encoders that export_onnx.py wrote.
//
// usage: node ort_bench.js MODE --dir build/peers [--threads N] [--reps N] [--warmup N]
//   bench  one JSON line per row: median ms/item of encode_image (batch 1, 16) and encode_text
//          (77 tokens, batch 1, 16, 64)
//   mem    session creation (load) time and peak RSS of one batch-1 image + text inference
//   check  encodes the 2 fixed inputs of clip_torch.py and writes DIR/ort_{image,text}.npy
// Sessions: intraOpNumThreads = threads, interOpNumThreads = 1, sequential execution, all graph
// optimisations. onnxruntime-node is loaded from DIR/node_modules (the harness installs it there).
'use strict';
const fs = require('fs');
const path = require('path');

function parseArgs(argv) {
  const a = { mode: argv[0], dir: 'build/peers', threads: 1, reps: 5, warmup: 1,
              imageBatches: [1, 16], textBatches: [1, 16, 64] };
  const list = (s) => s.split(',').map(Number);
  for (let i = 1; i < argv.length; i++) {
    const k = argv[i], v = argv[i + 1];
    if (k === '--dir') a.dir = v;
    else if (k === '--threads') a.threads = Number(v);
    else if (k === '--reps') a.reps = Number(v);
    else if (k === '--warmup') a.warmup = Number(v);
    else if (k === '--image-batches') a.imageBatches = list(v);
    else if (k === '--text-batches') a.textBatches = list(v);
    else { console.error(`ort_bench.js: unexpected argument '${k}'`); process.exit(2); }
    i++;
  }
  if (!['bench', 'mem', 'check'].includes(a.mode)) {
    console.error('usage: node ort_bench.js bench|mem|check --dir DIR [--threads N] [--reps N]');
    process.exit(2);
  }
  return a;
}

const S = 224, CTX = 77, SOT = 49406n, EOT = 49407n;

// The same deterministic inputs as bench/bench_vit.c and clip_torch.py.
function pixels(n) {
  const px = new Float32Array(n * 3 * S * S);
  for (let i = 0; i < px.length; i++) px[i] = ((Math.imul(i, 2654435761) >>> 0) % 1000) / 500 - 1;
  return px;
}
function tokens(n) {
  const t = new BigInt64Array(n * CTX);
  for (let b = 0; b < n; b++)
    for (let j = 0; j < CTX; j++)
      t[b * CTX + j] = j === 0 ? SOT : j === CTX - 1 ? EOT : BigInt(320 + (b * 7 + j) % 40000);
  return t;
}

async function session(ort, file, threads) {
  return ort.InferenceSession.create(file, {
    executionProviders: ['cpu'], intraOpNumThreads: threads, interOpNumThreads: 1,
    executionMode: 'sequential', graphOptimizationLevel: 'all',
  });
}

async function medianMs(fn, reps, warmup) {
  for (let i = 0; i < warmup; i++) await fn();
  const ts = [];
  for (let i = 0; i < reps; i++) {
    const t0 = process.hrtime.bigint();
    await fn();
    ts.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  ts.sort((x, y) => x - y);
  return ts[Math.floor(ts.length / 2)];
}

function writeNpy(file, data, shape) {   // float32, C order, npy format version 1.0
  let hdr = `{'descr': '<f4', 'fortran_order': False, 'shape': (${shape.join(', ')}), }`;
  hdr += ' '.repeat(63 - ((10 + hdr.length) % 64)) + '\n';
  const pre = Buffer.alloc(10);
  pre.write('\x93NUMPY', 0, 'latin1');
  pre[6] = 1; pre[7] = 0; pre.writeUInt16LE(hdr.length, 8);
  fs.writeFileSync(file, Buffer.concat([pre, Buffer.from(hdr, 'latin1'), Buffer.from(data.buffer, data.byteOffset, data.byteLength)]));
}

async function main() {
  const a = parseArgs(process.argv.slice(2));
  const modDir = path.resolve(a.dir, 'node_modules', 'onnxruntime-node');
  const ort = require(modDir);
  const version = require(path.join(modDir, 'package.json')).version;
  const imgFile = path.join(a.dir, 'vitb32_image.onnx'), txtFile = path.join(a.dir, 'vitb32_text.onnx');
  const t0 = process.hrtime.bigint();
  const img = await session(ort, imgFile, a.threads);
  const txt = await session(ort, txtFile, a.threads);
  const loadMs = Number(process.hrtime.bigint() - t0) / 1e6;
  const runImg = (px, n) => img.run({ pixels: new ort.Tensor('float32', px.subarray(0, n * 3 * S * S), [n, 3, S, S]) });
  const runTxt = (tk, n) => txt.run({ tokens: new ort.Tensor('int64', tk.subarray(0, n * CTX), [n, CTX]) });

  if (a.mode === 'mem') {
    await runImg(pixels(1), 1);
    await runTxt(tokens(1), 1);
    console.log(JSON.stringify({ system: 'onnxruntime-node', version, load_ms: loadMs,
      load_what: 'InferenceSession.create x2 (graph optimisation included)',
      maxrss_mb: process.resourceUsage().maxRSS / 1024 }));
    return;
  }
  if (a.mode === 'check') {
    const fi = (await runImg(pixels(2), 2)).image_embeds, ft = (await runTxt(tokens(2), 2)).text_embeds;
    writeNpy(path.join(a.dir, 'ort_image.npy'), fi.data, fi.dims);
    writeNpy(path.join(a.dir, 'ort_text.npy'), ft.data, ft.dims);
    return;
  }
  console.log(JSON.stringify({ system: 'onnxruntime-node', version, threads: a.threads,
    intra_op_threads: a.threads, inter_op_threads: 1, graph_optimization: 'all' }));
  const px = pixels(Math.max(...a.imageBatches)), tk = tokens(Math.max(...a.textBatches));
  for (const b of a.imageBatches) {
    const ms = await medianMs(() => runImg(px, b), a.reps, a.warmup);
    console.log(JSON.stringify({ what: 'image', batch: b, ms_per_item: ms / b }));
  }
  for (const b of a.textBatches) {
    const ms = await medianMs(() => runTxt(tk, b), a.reps, a.warmup);
    console.log(JSON.stringify({ what: 'text', batch: b, ms_per_item: ms / b }));
  }
}

main().catch((e) => { console.error(`ort_bench.js: ${e.message || e}`); process.exit(1); });
