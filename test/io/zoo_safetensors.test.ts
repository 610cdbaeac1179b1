// PyTorch interop of the zoo's state dicts through safetensors, without PyTorch: the test writes
// the bytes of PyTorch-layout state dicts of d2l's ResNet-18 and DenseNet (torch's names, order and
// shapes, num_batches_tracked as I64, as torch.save_file writes them) and loads them strictly; and
// wt.save's file of our model has exactly torch's entries, with I64 num_batches_tracked.
// The key lists are generated here from torch's naming rules and checked against the fingerprint of
// torch's own state_dict() (sha256 of its "name [shape]" lines, scripts/check-zoo-pytorch.py's
// models: `'\n'.join(f'{k} {list(v.shape)}' for k, v in net.state_dict().items())`, first 16 hex).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as wt from 'webgpu-tensor';
import { densenet, resnet18 } from '../../src/models/index.ts';

type Spec = [name: string, shape: number[]];

const TORCH_FINGERPRINT = { resnet18: '358a3d2553442434', densenet: '556f2ef658b4586b' };

function bn(prefix: string, c: number): Spec[] {
  return [[`${prefix}.weight`, [c]], [`${prefix}.bias`, [c]], [`${prefix}.running_mean`, [c]], [`${prefix}.running_var`, [c]], [`${prefix}.num_batches_tracked`, []]];
}
function conv(prefix: string, cout: number, cin: number, k: number): Spec[] {
  return [[`${prefix}.weight`, [cout, cin, k, k]], [`${prefix}.bias`, [cout]]];
}

/** torch's state_dict() entries of d2l's ResNet-18 (1 channel, 10 classes), in torch's order. */
function resnet18Torch(): Spec[] {
  const out: Spec[] = [...conv('0.0', 64, 1, 7), ...bn('0.1', 64)];
  const stages: [number, number, boolean][] = [[64, 64, true], [64, 128, false], [128, 256, false], [256, 512, false]];
  stages.forEach(([cin, c, first], s) => {
    for (let i = 0; i < 2; i++) {
      const p = `${s + 1}.${i}`;
      const project = i === 0 && !first;
      const inC = i === 0 ? cin : c;
      out.push(...conv(`${p}.conv1`, c, inC, 3), ...conv(`${p}.conv2`, c, c, 3));
      if (project) out.push(...conv(`${p}.conv3`, c, inC, 1));
      out.push(...bn(`${p}.bn1`, c), ...bn(`${p}.bn2`, c));
    }
  });
  out.push(['7.weight', [10, 512]], ['7.bias', [10]]);
  return out;
}

/** torch's state_dict() entries of d2l's DenseNet (growth 32, 4 x 4 convs), in torch's order. */
function densenetTorch(): Spec[] {
  const out: Spec[] = [...conv('0.0', 64, 1, 7), ...bn('0.1', 64)];
  let c = 64;
  let idx = 1;
  for (let b = 0; b < 4; b++) {
    for (let i = 0; i < 4; i++) out.push(...bn(`${idx}.net.${i}.0`, c + 32 * i), ...conv(`${idx}.net.${i}.2`, 32, c + 32 * i, 3));
    c += 4 * 32;
    idx++;
    if (b < 3) {
      out.push(...bn(`${idx}.0`, c), ...conv(`${idx}.2`, c >> 1, c, 1));
      c >>= 1;
      idx++;
    }
  }
    // BatchNorm, ReLU, AdaptiveAvgPool2d, Flatten, Linear
  out.push(...bn(`${idx}`, c), [`${idx + 4}.weight`, [10, c]], [`${idx + 4}.bias`, [10]]);
  return out;
}

const fingerprint = (specs: Spec[]) =>
  createHash('sha256').update(specs.map(([k, s]) => `${k} [${s.join(', ')}]`).join('\n')).digest('hex').slice(0, 16);

/** The deterministic value of element j of entry i (positive for running_var). */
function valueOf(name: string, i: number, j: number): number {
  const v = Math.sin(i * 0.37 + j * 0.011) * 0.05;
  return name.endsWith('running_var') ? 0.5 + Math.abs(v) * 10 : v;
}
const NBT = (i: number) => 1000 + i;

/** A safetensors file as torch writes a state dict: F32 floats, I64 num_batches_tracked. */
function torchFile(specs: Spec[]): Uint8Array {
  const header: Record<string, unknown> = {};
  const chunks: Uint8Array[] = [];
  let off = 0;
  specs.forEach(([name, shape], i) => {
    const n = shape.reduce((a, b) => a * b, 1);
    let bytes: Uint8Array;
    if (name.endsWith('num_batches_tracked')) bytes = new Uint8Array(BigInt64Array.of(BigInt(NBT(i))).buffer);
    else bytes = new Uint8Array(Float32Array.from({ length: n }, (_, j) => valueOf(name, i, j)).buffer);
    header[name] = { dtype: name.endsWith('num_batches_tracked') ? 'I64' : 'F32', shape, data_offsets: [off, off + bytes.length] };
    chunks.push(bytes);
    off += bytes.length;
  });
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - ((8 + json.length) % 8)) % 8);
  const out = new Uint8Array(8 + json.length + off);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let p = 8 + json.length;
  for (const c of chunks) {
    out.set(c, p);
    p += c.length;
  }
  return out;
}

/** Header of a safetensors file: name -> { dtype, shape, data_offsets }, and where the data starts. */
function readHeader(buf: Uint8Array): { header: Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] }>; start: number } {
  const n = Number(new DataView(buf.buffer, buf.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(buf.subarray(8, 8 + n)));
  delete header.__metadata__;
  return { header, start: 8 + n };
}

/** One model of each kind, built once (initialising ResNet-18 on the CPU takes seconds). */
const built = new Map<string, wt.nn.Module>();
const once = (name: string, make: () => wt.nn.Module) => () => built.get(name) ?? built.set(name, make()).get(name)!;
const MODELS = [
  { name: 'resnet18', specs: resnet18Torch(), build: once('resnet18', () => resnet18()) },
  { name: 'densenet', specs: densenetTorch(), build: once('densenet', () => densenet()) },
] as const;

/** The state dict of a freshly built model (names, order and shapes only). */
function densenetOrResnetFresh(name: 'resnet18' | 'densenet'): wt.nn.StateDict {
  return MODELS.find((m) => m.name === name)!.build().stateDict();
}

describe('zoo state dicts: PyTorch layout through safetensors', () => {
  let dir = '';
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'wt-zoo-st-'));
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  for (const m of MODELS) {
    it(`${m.name}: the generated key list is torch's (fingerprint), and our stateDict() has it in torch's order`, () => {
      expect(fingerprint(m.specs)).toBe(TORCH_FINGERPRINT[m.name]);
      const sd = densenetOrResnetFresh(m.name);
      expect(fingerprint(Object.entries(sd).map(([k, t]) => [k, [...t.shape]]))).toBe(TORCH_FINGERPRINT[m.name]);
    });

    it(`${m.name}: a torch-written file (I64 num_batches_tracked) loads strictly with every value in place`, async () => {
      const path = join(dir, `${m.name}.torch.safetensors`);
      writeFileSync(path, torchFile(m.specs));
      const net = m.build();
      const res = net.loadStateDict(await wt.load(path, { device: 'cpu' }), { strict: true });
      expect(res).toEqual({ missingKeys: [], unexpectedKeys: [] });
      const sd = net.stateDict();
      let nbt = 0;
      for (const [i, [name, shape]] of m.specs.entries()) {
        const a = await sd[name].toArray();
        if (name.endsWith('num_batches_tracked')) {
          expect(sd[name].dtype, name).toBe('int32');
          expect(a[0], name).toBe(NBT(i));
          nbt++;
        } else {
          const n = shape.reduce((x, y) => x * y, 1);
          for (const j of [0, n >> 1, n - 1]) expect(a[j], `${name}[${j}]`).toBeCloseTo(valueOf(name, i, j), 6);
        }
      }
      expect(nbt).toBe(m.name === 'resnet18' ? 17 : 21);
      // the loaded model runs
      const y = wt.noGrad(() => net.eval().forward(wt.ones([1, 1, 32, 32], { device: 'cpu' })));
      expect(y.shape).toEqual([1, 10]);
    });

    it(`${m.name}: wt.save writes torch's entries, num_batches_tracked as I64 scalars`, async () => {
      // the model loaded in the previous test
      const net = m.build();
      const path = join(dir, `${m.name}.wt.safetensors`);
      await wt.save(net.stateDict(), path, undefined, { int32As: 'I64' });
      const buf = new Uint8Array(readFileSync(path));
      const { header, start } = readHeader(buf);
      expect(Object.keys(header).sort()).toEqual(m.specs.map(([k]) => k).sort());
      for (const [i, [name, shape]] of m.specs.entries()) {
        const h = header[name];
        expect(h.shape, name).toEqual(shape);
        if (!name.endsWith('num_batches_tracked')) {
          expect(h.dtype, name).toBe('F32');
          continue;
        }
        expect(h.dtype, name).toBe('I64');
        expect(h.data_offsets[1] - h.data_offsets[0], name).toBe(8);
        expect(new DataView(buf.buffer, buf.byteOffset + start + h.data_offsets[0], 8).getBigInt64(0, true), name).toBe(BigInt(NBT(i)));
      }
    });
  }

  it('a torch file missing an entry or with an extra one is refused by a strict load, naming the keys', async () => {
    const specs = resnet18Torch();
    const path = join(dir, 'partial.safetensors');
    writeFileSync(path, torchFile([...specs.filter(([k]) => k !== '3.0.bn2.running_var'), ['3.0.bn3.weight', [256]]]));
    const net = MODELS[0].build();
    const sd = await wt.load(path, { device: 'cpu' });
    expect(() => net.loadStateDict(sd, { strict: true })).toThrow(/missing keys: 3\.0\.bn2\.running_var; unexpected keys: 3\.0\.bn3\.weight/);
  });
});
