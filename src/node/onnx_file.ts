// wt.onnx.export: the ONNX model of exportBytes written to a file (Node only), atomically: `path`
// holds the previous or the new complete file at every moment (atomic_file.ts).
import type { Tensor } from '../tensor/tensor.ts';
import type { Module } from '../nn/module.ts';
import { writeFileAtomic } from './atomic_file.ts';
import { type OnnxExportOptions, checkExportArgs, exportBytes } from '../io/onnx_export.ts';

/** Trace `model` on `exampleInput` and write the ONNX model to `path` (see exportBytes). */
export async function exportToFile(model: Module, exampleInput: Tensor, path: string, options?: OnnxExportOptions): Promise<void> {
  const op = 'onnx.export';
  checkExportArgs(op, model, exampleInput, options);
  if (typeof path !== 'string' || !path) throw new Error(`${op}: path must be a non-empty string, got ${String(path)}`);
  await writeFileAtomic(path, await exportBytes(model, exampleInput, options), op);
}
