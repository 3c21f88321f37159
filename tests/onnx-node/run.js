// run.js — runs an ONNX file written by `ferc export --onnx` on FER2013 faces
// with onnxruntime-node, for tests/onnx_check.py (which compares the result
// with ferc's own probabilities).
// usage: node run.js MODEL.onnx FACES.u8 N OUT.f32
//   FACES.u8: N x 48 x 48 uint8 pixels; OUT.f32: N x classes float32 written.
'use strict';
const fs = require('fs');
const ort = require('onnxruntime-node');

async function main() {
  const [model, facesPath, nArg, outPath] = process.argv.slice(2);
  const n = Number(nArg);
  const bytes = fs.readFileSync(facesPath);
  if (!outPath || !(n >= 0) || bytes.length !== n * 48 * 48) {
    throw new Error(`usage: node run.js MODEL.onnx FACES.u8 N OUT.f32 (${bytes.length} bytes for ${n} faces)`);
  }
  const session = await ort.InferenceSession.create(model);
  // the graph takes pixels 0..255 as float32 and does the rest itself
  const pixels = Float32Array.from(bytes);
  const { probs } = await session.run({ pixels: new ort.Tensor('float32', pixels, [n, 1, 48, 48]) });
  fs.writeFileSync(outPath, Buffer.from(probs.data.buffer, probs.data.byteOffset, probs.data.byteLength));
}

main().catch((e) => { console.error(String(e.message || e)); process.exit(1); });
