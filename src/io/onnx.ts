// wt.onnx: ONNX export as bytes (the Node entry's wt.onnx adds `export(model, exampleInput, path,
// options)`, which writes a .onnx file: src/node/onnx_node.ts);
// `exportBytes(model, exampleInput, options)` returns its bytes (also in browsers, from
// onnx_export.ts, which imports no Node module).
export { exportBytes, OnnxExportError, MIN_OPSET, MAX_OPSET, type OnnxExportOptions } from './onnx_export.ts';
