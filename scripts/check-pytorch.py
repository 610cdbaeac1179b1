#!/usr/bin/env python3
"""Loads webgpu-tensor's safetensors files into torch.nn.Sequential AlexNet (d2l 7.1) and compares
outputs. Uses the `safetensors` package when installed, else a reader written from the spec.
   python3 scripts/check-pytorch.py OUT_DIR"""
import json, struct, sys
import torch
from torch import nn

def load_file(path):
    try:
        from safetensors.torch import load_file as lf
        return lf(path)
    except ImportError:
        pass
    with open(path, 'rb') as f:
        buf = f.read()
    (n,) = struct.unpack('<Q', buf[:8])
    header = json.loads(buf[8:8 + n])
    data = buf[8 + n:]
    dt = {'F32': torch.float32, 'F64': torch.float64, 'I32': torch.int32}
    out = {}
    for k, v in header.items():
        if k == '__metadata__':
            continue
        b, e = v['data_offsets']
        out[k] = torch.frombuffer(bytearray(data[b:e]), dtype=dt[v['dtype']]).reshape(v['shape'])
    return out

d = sys.argv[1] if len(sys.argv) > 1 else 'out/pytorch-check'
sd = load_file(f'{d}/alexnet.safetensors')
io = load_file(f'{d}/io.safetensors')
r = io['x'].shape[-1]
def side(n):
    o = lambda n, k, s, p: (n + 2 * p - k) // s + 1
    n = o(n, 11, 4, 1); n = o(n, 3, 2, 0); n = o(n, 5, 1, 2); n = o(n, 3, 2, 0); return o(n, 3, 2, 0)
s = side(r)
net = nn.Sequential(
    nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
    nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
    nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
    nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten(),
    nn.Linear(256 * s * s, 4096), nn.ReLU(), nn.Dropout(p=0.5),
    nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
    nn.Linear(4096, 10))
net.load_state_dict(sd, strict=True)
net.eval()
with torch.no_grad():
    y = net(io['x'])
ref = io['y']
err = (y - ref).abs().max().item()
scale = ref.abs().max().item()
print(f'torch {torch.__version__}: loaded {len(sd)} tensors strictly into nn.Sequential AlexNet ({r}x{r}); '
      f'max |ours - torch| = {err:.3e} (max |y| = {scale:.3e}, rel {err / max(scale, 1e-30):.2e})')
sys.exit(0 if err <= 1e-4 * max(scale, 1) else 1)
