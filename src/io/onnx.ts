// wt.onnx: ONNX export. `export(model, exampleInput, path, options)` writes a .onnx file (Node);
// `exportBytes(model, exampleInput, options)` returns its bytes (also in browsers, from
// onnx_export.ts, which imports no Node module).
export { exportBytes, OnnxExportError, MIN_OPSET, MAX_OPSET, type OnnxExportOptions } from './onnx_export.ts';
export { exportToFile as export } from './onnx_file.ts';
