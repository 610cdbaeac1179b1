// The ONNX protobuf messages this exporter writes, through onnx-proto (ONNX's onnx.proto compiled
// for protobufjs). Tensors of initializers travel as raw little-endian bytes (TensorProto.raw_data).
import onnxProto from 'onnx-proto';

const { onnx } = onnxProto;
export type ModelMessage = onnxProto.onnx.IModelProto;
export type NodeMessage = onnxProto.onnx.INodeProto;
export type TensorMessage = onnxProto.onnx.ITensorProto;
export type AttributeMessage = onnxProto.onnx.IAttributeProto;
export type ValueInfoMessage = onnxProto.onnx.IValueInfoProto;

/** TensorProto.DataType codes of the element types the exporter writes. */
export const ELEM = { float: 1, int32: 6, int64: 7, bool: 9, double: 11 } as const;
export type ElemType = (typeof ELEM)[keyof typeof ELEM];

/** An attribute value tagged with its ONNX type (a float 1 and an int 1 are different attributes). */
export type Attr =
  | { type: 'f'; v: number }
  | { type: 'i'; v: number }
  | { type: 's'; v: string }
  | { type: 'floats'; v: readonly number[] }
  | { type: 'ints'; v: readonly number[] };

export const attrF = (v: number): Attr => ({ type: 'f', v });
export const attrI = (v: number): Attr => ({ type: 'i', v });
export const attrS = (v: string): Attr => ({ type: 's', v });
export const attrInts = (v: readonly number[]): Attr => ({ type: 'ints', v });
export const attrFloats = (v: readonly number[]): Attr => ({ type: 'floats', v });

const A = onnx.AttributeProto.AttributeType;

export function attributeMessage(name: string, a: Attr): AttributeMessage {
  switch (a.type) {
    case 'f':
      return { name, type: A.FLOAT, f: a.v };
    case 'i':
      return { name, type: A.INT, i: a.v };
    case 's':
      return { name, type: A.STRING, s: new TextEncoder().encode(a.v) };
    case 'floats':
      return { name, type: A.FLOATS, floats: [...a.v] };
    case 'ints':
      return { name, type: A.INTS, ints: [...a.v] };
  }
}

/** A tensor with raw little-endian data: float32 / int32 / int64 (from integers) / bool / float64. */
export function tensorMessage(name: string, elem: ElemType, dims: readonly number[], values: ArrayLike<number>): TensorMessage {
  let raw: Uint8Array;
  const copy = (a: Float32Array | Int32Array | Float64Array | BigInt64Array | Uint8Array) => new Uint8Array(a.buffer, a.byteOffset, a.byteLength);
  if (elem === ELEM.float) raw = copy(Float32Array.from(values));
  else if (elem === ELEM.int32) raw = copy(Int32Array.from(values));
  else if (elem === ELEM.double) raw = copy(Float64Array.from(values));
  else if (elem === ELEM.bool) raw = Uint8Array.from(values, (v) => (v ? 1 : 0));
  else raw = copy(BigInt64Array.from(Array.from(values), (v) => BigInt(v)));
  return { name, dataType: elem, dims: [...dims], rawData: raw };
}

/** A graph input / output: element type and dims (a string dim is symbolic, e.g. 'batch'). */
export function valueInfo(name: string, elem: ElemType, dims: readonly (number | string)[]): ValueInfoMessage {
  return {
    name,
    type: {
      tensorType: {
        elemType: elem,
        shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) },
      },
    },
  };
}

/** Serialise a ModelProto. */
export function encodeModel(m: ModelMessage): Uint8Array {
  return onnx.ModelProto.encode(onnx.ModelProto.create(m)).finish();
}

/** Parse a ModelProto (tests and tools read back what was written). */
export function decodeModel(bytes: Uint8Array): onnxProto.onnx.ModelProto {
  return onnx.ModelProto.decode(bytes);
}
