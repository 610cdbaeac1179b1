#!/usr/bin/env python3
# PyTorch interop of the model zoo, both directions, for every model: d2l.ai's CNNs as scripts/zoo_reference.py writes them in
# PyTorch exactly as the book's PyTorch code defines them (nn.Sequential blocks, the Inception /
# Residual / DenseBlock classes), checked against webgpu-tensor's (scripts/export-zoo.ts):
#   1. webgpu-tensor -> PyTorch: wt.save's state dict (num_batches_tracked as I64) loads with
#      load_state_dict(strict=True); the logits of the same input agree;
#   2. PyTorch -> webgpu-tensor: a state dict PyTorch trained BatchNorm statistics into (int64
#      num_batches_tracked) loads with loadStateDict(strict) there; the logits agree.
# Prints the largest logit difference per model and direction; exits 1 if one exceeds --tol.
#   /usr/bin/python3 scripts/check-zoo-pytorch.py [--small] [--tol 1e-3] [--keep DIR]
# Needs python3-torch; safetensors files are read and written here (the format is a JSON header
# and raw little-endian tensors), so the safetensors package is not needed.
import argparse
import json
import os
import struct
import subprocess
import sys
import tempfile

try:
    import torch
    from torch import nn
    from torch.nn import functional as F
except ImportError:
    print('check-zoo-pytorch: skipped, PyTorch is not installed (Debian: apt-get install python3-torch)')
    sys.exit(0)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# ---------------- safetensors ----------------
CODES = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32, 'I64': torch.int64}
NAMES = {v: k for k, v in CODES.items()}


def read_safetensors(path):
    with open(path, 'rb') as f:
        data = f.read()
    (n,) = struct.unpack('<Q', data[:8])
    header = json.loads(data[8:8 + n])
    body = data[8 + n:]
    out = {}
    for name, info in header.items():
        if name == '__metadata__':
            continue
        b, e = info['data_offsets']
        raw = bytearray(body[b:e])
        t = torch.frombuffer(raw, dtype=CODES[info['dtype']]) if raw else torch.empty(0, dtype=CODES[info['dtype']])
        out[name] = t.reshape(info['shape']).clone()
    return out


def write_safetensors(path, tensors):
    header, chunks, off = {}, [], 0
    for name in sorted(tensors):
        t = tensors[name].detach().cpu().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {'dtype': NAMES[t.dtype], 'shape': list(t.shape), 'data_offsets': [off, off + len(raw)]}
        chunks.append(raw)
        off += len(raw)
    h = json.dumps(header).encode()
    h += b' ' * ((8 - (8 + len(h)) % 8) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(h)) + h + b''.join(chunks))


# d2l's models (PyTorch code of the book, 1-channel Fashion-MNIST, 10 classes): scripts/zoo_reference.py
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from zoo_reference import BUILDERS  # noqa: E402


def build(entry):
    kwargs = {'side': entry['side']}
    if 'ratio' in entry['options']:
        kwargs['ratio'] = entry['options']['ratio']
    return BUILDERS[entry['name']](**kwargs)


# ---------------- the round trip ----------------
def run_driver(*args):
    # --conditions=source: the library as the TypeScript sources (no build needed)
    cmd = ['npx', 'tsx', '--conditions=source', os.path.join(ROOT, 'scripts', 'export-zoo.ts'), *args]
    env = {**os.environ, 'XDG_RUNTIME_DIR': os.environ.get('XDG_RUNTIME_DIR', '/tmp')}
    subprocess.run(cmd, cwd=ROOT, env=env, check=True)


def max_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument('--small', action='store_true', help='reduced image sides (quick)')
    ap.add_argument('--tol', type=float, default=1e-3, help='largest accepted |logit difference|')
    ap.add_argument('--keep', help='directory for the files (default: a temporary one, removed)')
    a = ap.parse_args()
    tmp = None
    d = a.keep
    if not d:
        tmp = tempfile.TemporaryDirectory(prefix='zoo-pytorch-')
        d = tmp.name
    os.makedirs(d, exist_ok=True)
    torch.set_num_threads(max(1, (os.cpu_count() or 2) // 2))

    run_driver('save', d, *(['--small'] if a.small else []))
    manifest = json.load(open(os.path.join(d, 'manifest.json')))
    rows = []
    for i, e in enumerate(manifest):
        name = e['name']
        # 1. webgpu-tensor -> PyTorch
        net = build(e)
        sd = read_safetensors(os.path.join(d, f'{name}.wt.safetensors'))
        net.load_state_dict(sd, strict=True)
        nbt = [v for k, v in net.state_dict().items() if k.endswith('num_batches_tracked')]
        assert all(v.dtype == torch.int64 and v.item() == 2 for v in nbt), f'{name}: num_batches_tracked'
        io = read_safetensors(os.path.join(d, f'{name}.wt-io.safetensors'))
        net.eval()
        with torch.no_grad():
            y = net(io['x'])
        d1 = max_diff(y, io['logits'])
        scale = io['logits'].abs().max().item()

        # 2. PyTorch -> webgpu-tensor: BatchNorm statistics from two training-mode batches
        torch.manual_seed(300 + i)
        net = build(e)
        net.train()
        with torch.no_grad():
            for _ in range(2):
                net(torch.randn(4, 1, e['side'], e['side']) * 1.3 + 0.2)
        net.eval()
        x = torch.randn(2, 1, e['side'], e['side'])
        with torch.no_grad():
            y = net(x)
        write_safetensors(os.path.join(d, f'{name}.torch.safetensors'), net.state_dict())
        write_safetensors(os.path.join(d, f'{name}.torch-io.safetensors'), {'x': x, 'logits': y})
        rows.append([name, e['side'], sum(p.numel() for p in net.parameters()), len(nbt), d1, scale])

    run_driver('load', d)
    print(f"\n{'model':<10} {'side':>4} {'params':>11} {'BN':>3}  {'wt->torch':>10}  {'torch->wt':>10}  {'max|logit|':>10}")
    worst = 0.0
    for r in rows:
        name = r[0]
        theirs = read_safetensors(os.path.join(d, f'{name}.torch-io.safetensors'))['logits']
        ours = read_safetensors(os.path.join(d, f'{name}.wt-from-torch.safetensors'))['logits']
        d2 = max_diff(ours, theirs)
        worst = max(worst, r[4], d2)
        print(f'{name:<10} {r[1]:>4} {r[2]:>11,} {r[3]:>3}  {r[4]:>10.2e}  {d2:>10.2e}  {max(r[5], theirs.abs().max().item()):>10.3g}')
    print(f'\nlargest |logit difference| {worst:.2e} (tolerance {a.tol:g}); every state dict loaded strictly both ways')
    if tmp:
        tmp.cleanup()
    return 0 if worst <= a.tol else 1


if __name__ == '__main__':
    sys.exit(main())
