// The error onnx export throws for a model it cannot express in ONNX (an op without an ONNX
// equivalent, an input-dependent constant). Its own file so the public .d.ts stays free of the
// protobuf types.
/** Thrown by `wt.onnx.export` / `exportBytes` naming the op or construct ONNX cannot express. */
export class OnnxExportError extends Error {}
