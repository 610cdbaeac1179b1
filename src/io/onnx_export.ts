// ONNX export (torch.onnx.export's role): exportBytes(model, exampleInput, options) traces the
// model's forward on the example input (onnx_trace.ts), writes each recorded op as standard ONNX
// nodes (onnx_ops.ts) with the parameters and buffers as initializers named by their state-dict
// names, and returns the serialised ModelProto. No file system here (browsers can call it); the
// Node file writer is onnx_file.ts.
import { Tensor } from '../tensor/tensor.ts';
import { Module } from '../nn/module.ts';
import { OnnxExportError } from './onnx_error.ts';
import { traceModel } from './onnx_trace.ts';
import { ELEM, encodeModel, tensorMessage, valueInfo } from './onnx_proto.ts';

export { OnnxExportError } from './onnx_error.ts';

/** Options of {@link exportBytes} (and of `wt.onnx.export` in Node), as torch.onnx.export's. */
export interface OnnxExportOptions {
  /** The ONNX opset the graph uses (default 17; 13 to 21). */
  opsetVersion?: number;
  /** Write the first dim of the input (and of the output, when it follows the input) as the
   * symbolic 'batch', so the model runs on any batch size (default false: the example's shape). */
  dynamicBatch?: boolean;
  /** The graph input's name (default 'input'). */
  inputName?: string;
  /** The graph output's name (default 'output'). */
  outputName?: string;
}

const OPTION_KEYS = ['opsetVersion', 'dynamicBatch', 'inputName', 'outputName'] as const;
/** The lowest ONNX opset the exporter writes (`opsetVersion` >= 13). */
export const MIN_OPSET = 13;
/** The highest ONNX opset the exporter writes (`opsetVersion` <= 21). */
export const MAX_OPSET = 21;

/** The IR version of the ONNX release that introduced each opset (opset 15-18: IR 8). */
function irVersionFor(opset: number): number {
  return opset <= 14 ? 7 : opset <= 18 ? 8 : opset <= 20 ? 9 : 10;
}

function checkOptions(op: string, o: unknown): Required<OnnxExportOptions> {
  if (o === undefined) o = {};
  if (o === null || typeof o !== 'object' || Array.isArray(o))
    throw new Error(`${op}: options must be an object { ${OPTION_KEYS.join(', ')} }, got ${Array.isArray(o) ? 'an array' : String(o)}`);
  for (const k of Object.keys(o))
    if (!(OPTION_KEYS as readonly string[]).includes(k)) throw new Error(`${op}: unknown option '${k}' (accepted: ${OPTION_KEYS.join(', ')})`);
  const { opsetVersion = 17, dynamicBatch = false, inputName = 'input', outputName = 'output' } = o as OnnxExportOptions;
  if (typeof opsetVersion !== 'number' || !Number.isInteger(opsetVersion) || opsetVersion < MIN_OPSET || opsetVersion > MAX_OPSET)
    throw new Error(`${op}: opsetVersion must be an integer from ${MIN_OPSET} to ${MAX_OPSET}, got ${String(opsetVersion)}`);
  if (typeof dynamicBatch !== 'boolean') throw new Error(`${op}: dynamicBatch must be a boolean, got ${String(dynamicBatch)}`);
  for (const [k, v] of [['inputName', inputName], ['outputName', outputName]] as const)
    if (typeof v !== 'string' || !v) throw new Error(`${op}: ${k} must be a non-empty string, got ${JSON.stringify(v)}`);
  if (inputName === outputName) throw new Error(`${op}: inputName and outputName must differ, both are '${inputName}'`);
  return { opsetVersion, dynamicBatch, inputName, outputName };
}

/** Check the arguments shared by exportBytes and export. */
export function checkExportArgs(op: string, model: unknown, exampleInput: unknown, options: unknown): Required<OnnxExportOptions> {
  if (!(model instanceof Module)) throw new Error(`${op}: model must be a Module, got ${model === null ? 'null' : typeof model}`);
  if (!(exampleInput instanceof Tensor)) throw new Error(`${op}: exampleInput must be a Tensor, got ${exampleInput === null ? 'null' : typeof exampleInput}`);
  exampleInput.check(op);
  if (exampleInput.dtype !== 'float32') throw new Error(`${op}: exampleInput must be float32 (the exported graph is float32), got ${exampleInput.dtype}`);
  if (exampleInput.ndim === 0) throw new Error(`${op}: exampleInput must have at least one dim, got a scalar`);
  return checkOptions(op, options);
}

/**
 * The model as an ONNX ModelProto (bytes of a .onnx file). The forward runs once on exampleInput
 * in eval mode (training flags are restored after); every op it performs through the library's
 * differentiable ops is written, shapes fixed to the example's (dim 0 symbolic with dynamicBatch).
 * Throws OnnxExportError naming an op that has no ONNX equivalent.
 */
export async function exportBytes(model: Module, exampleInput: Tensor, options?: OnnxExportOptions): Promise<Uint8Array> {
  const o = checkExportArgs('onnx.exportBytes', model, exampleInput, options);
  const trace = traceModel(model, exampleInput, { opset: o.opsetVersion, dynamicBatch: o.dynamicBatch, inputName: o.inputName, outputName: o.outputName });
  const weights = [];
  try {
    for (const p of trace.pending) weights.push(tensorMessage(p.name, p.elem, p.tensor.shape, await p.tensor.check('onnx.exportBytes').toArray()));
  } finally {
    for (const p of trace.pending) if (p.owned) p.tensor.dispose();
  }
  return encodeModel({
    irVersion: irVersionFor(o.opsetVersion),
    opsetImport: [{ domain: '', version: o.opsetVersion }],
    producerName: 'webgpu-tensor',
    graph: {
      name: model.constructor.name || 'model',
      node: trace.g.nodes,
      initializer: [...weights, ...trace.g.initializers],
      input: [valueInfo(o.inputName, ELEM.float, trace.inputDims)],
      output: [valueInfo(o.outputName, ELEM.float, trace.outputDims)],
    },
  });
}

