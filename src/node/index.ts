// The Node entry ('webgpu-tensor' under Node, and 'webgpu-tensor/node'): the core's API, with
// init() defaulting to Dawn (the `webgpu` package), weight files and checkpoints on disk, and
// Fashion-MNIST located or downloaded on disk. Local exports here take precedence over the core's.
/**
 * The Node entry (`webgpu-tensor` under Node, or `webgpu-tensor/node`): the core API plus `init()`
 * defaulting to Dawn, `save` / `load` / checkpoints as files, and Fashion-MNIST on disk.
 * @module webgpu-tensor/node
 */
export * from '../index.ts';
export { init, DAWN_NO_ADAPTER_HELP, type NodeInitOptions } from './dawn_init.ts';
export { save, load, loadSafetensors, saveCheckpoint, loadCheckpoint } from './weight_files.ts';
export { writeFileAtomic, writeFileAtomicSync, type AtomicData } from './atomic_file.ts';
export * as data from './node_data.ts';
export * as onnx from './onnx_node.ts';
