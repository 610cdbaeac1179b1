// wt.onnx in Node: the core's ONNX export plus `export`, which writes the model to a file.
export * from '../io/onnx.ts';
export { exportToFile as export } from './onnx_file.ts';
