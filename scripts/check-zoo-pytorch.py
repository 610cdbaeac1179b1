#!/usr/bin/env python3
# PyTorch interop of the model zoo, both directions, for every model: d2l.ai's CNNs written here in
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


# ---------------- d2l's models (PyTorch code of the book, 1-channel Fashion-MNIST, 10 classes) ----------------
def flat_size(layers, side):
    """In-features of the Linear after a Flatten for `side` x `side` inputs (the book hardcodes it
    for its image sizes: 16 * 5 * 5 for LeNet at 28, 6400 for AlexNet at 224, ... )."""
    with torch.no_grad():
        return nn.Sequential(*layers)(torch.zeros(1, 1, side, side)).numel()


def lenet(side=28):
    features = [nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2),
                nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(), nn.AvgPool2d(kernel_size=2, stride=2), nn.Flatten()]
    return nn.Sequential(*features, nn.Linear(flat_size(features, side), 120), nn.Sigmoid(),
                         nn.Linear(120, 84), nn.Sigmoid(), nn.Linear(84, 10))


def alexnet(side=224):
    features = [
        nn.Conv2d(1, 96, kernel_size=11, stride=4, padding=1), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(96, 256, kernel_size=5, padding=2), nn.ReLU(), nn.MaxPool2d(kernel_size=3, stride=2),
        nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 384, kernel_size=3, padding=1), nn.ReLU(),
        nn.Conv2d(384, 256, kernel_size=3, padding=1), nn.ReLU(),
        nn.MaxPool2d(kernel_size=3, stride=2), nn.Flatten()]
    return nn.Sequential(*features,
                         nn.Linear(flat_size(features, side), 4096), nn.ReLU(), nn.Dropout(p=0.5),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(p=0.5),
                         nn.Linear(4096, 10))


def vgg_block(num_convs, in_channels, out_channels):
    layers = []
    for _ in range(num_convs):
        layers.append(nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1))
        layers.append(nn.ReLU())
        in_channels = out_channels
    layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
    return nn.Sequential(*layers)


def vgg(conv_arch, side=224):
    conv_blks = []
    in_channels = 1
    for (num_convs, out_channels) in conv_arch:
        conv_blks.append(vgg_block(num_convs, in_channels, out_channels))
        in_channels = out_channels
    features = [*conv_blks, nn.Flatten()]
    return nn.Sequential(*features,
                         nn.Linear(flat_size(features, side), 4096), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(4096, 4096), nn.ReLU(), nn.Dropout(0.5),
                         nn.Linear(4096, 10))


conv_arch = ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512))


def vgg11(side=224, ratio=4):
    small_conv_arch = [(pair[0], pair[1] // ratio) for pair in conv_arch]
    return vgg(small_conv_arch, side)


def nin_block(in_channels, out_channels, kernel_size, strides, padding):
    return nn.Sequential(
        nn.Conv2d(in_channels, out_channels, kernel_size, strides, padding), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU(),
        nn.Conv2d(out_channels, out_channels, kernel_size=1), nn.ReLU())


def nin(side=224):
    return nn.Sequential(
        nin_block(1, 96, kernel_size=11, strides=4, padding=0), nn.MaxPool2d(3, stride=2),
        nin_block(96, 256, kernel_size=5, strides=1, padding=2), nn.MaxPool2d(3, stride=2),
        nin_block(256, 384, kernel_size=3, strides=1, padding=1), nn.MaxPool2d(3, stride=2),
        nn.Dropout(0.5),
        nin_block(384, 10, kernel_size=3, strides=1, padding=1),
        nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())


class Inception(nn.Module):
    def __init__(self, in_channels, c1, c2, c3, c4, **kwargs):
        super(Inception, self).__init__(**kwargs)
        self.p1_1 = nn.Conv2d(in_channels, c1, kernel_size=1)
        self.p2_1 = nn.Conv2d(in_channels, c2[0], kernel_size=1)
        self.p2_2 = nn.Conv2d(c2[0], c2[1], kernel_size=3, padding=1)
        self.p3_1 = nn.Conv2d(in_channels, c3[0], kernel_size=1)
        self.p3_2 = nn.Conv2d(c3[0], c3[1], kernel_size=5, padding=2)
        self.p4_1 = nn.MaxPool2d(kernel_size=3, stride=1, padding=1)
        self.p4_2 = nn.Conv2d(in_channels, c4, kernel_size=1)

    def forward(self, x):
        p1 = F.relu(self.p1_1(x))
        p2 = F.relu(self.p2_2(F.relu(self.p2_1(x))))
        p3 = F.relu(self.p3_2(F.relu(self.p3_1(x))))
        p4 = F.relu(self.p4_2(self.p4_1(x)))
        return torch.cat((p1, p2, p3, p4), dim=1)


def googlenet(side=96):
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(nn.Conv2d(64, 64, kernel_size=1), nn.ReLU(),
                       nn.Conv2d(64, 192, kernel_size=3, padding=1), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b3 = nn.Sequential(Inception(192, 64, (96, 128), (16, 32), 32),
                       Inception(256, 128, (128, 192), (32, 96), 64),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b4 = nn.Sequential(Inception(480, 192, (96, 208), (16, 48), 64),
                       Inception(512, 160, (112, 224), (24, 64), 64),
                       Inception(512, 128, (128, 256), (24, 64), 64),
                       Inception(512, 112, (144, 288), (32, 64), 64),
                       Inception(528, 256, (160, 320), (32, 128), 128),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b5 = nn.Sequential(Inception(832, 256, (160, 320), (32, 128), 128),
                       Inception(832, 384, (192, 384), (48, 128), 128),
                       nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten())
    return nn.Sequential(b1, b2, b3, b4, b5, nn.Linear(1024, 10))


class Residual(nn.Module):
    def __init__(self, input_channels, num_channels, use_1x1conv=False, strides=1):
        super().__init__()
        self.conv1 = nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1, stride=strides)
        self.conv2 = nn.Conv2d(num_channels, num_channels, kernel_size=3, padding=1)
        if use_1x1conv:
            self.conv3 = nn.Conv2d(input_channels, num_channels, kernel_size=1, stride=strides)
        else:
            self.conv3 = None
        self.bn1 = nn.BatchNorm2d(num_channels)
        self.bn2 = nn.BatchNorm2d(num_channels)

    def forward(self, X):
        Y = F.relu(self.bn1(self.conv1(X)))
        Y = self.bn2(self.conv2(Y))
        if self.conv3:
            X = self.conv3(X)
        Y += X
        return F.relu(Y)


def resnet_block(input_channels, num_channels, num_residuals, first_block=False):
    blk = []
    for i in range(num_residuals):
        if i == 0 and not first_block:
            blk.append(Residual(input_channels, num_channels, use_1x1conv=True, strides=2))
        else:
            blk.append(Residual(num_channels, num_channels))
    return blk


def resnet18(side=96):
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    b2 = nn.Sequential(*resnet_block(64, 64, 2, first_block=True))
    b3 = nn.Sequential(*resnet_block(64, 128, 2))
    b4 = nn.Sequential(*resnet_block(128, 256, 2))
    b5 = nn.Sequential(*resnet_block(256, 512, 2))
    return nn.Sequential(b1, b2, b3, b4, b5, nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(512, 10))


def conv_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=3, padding=1))


class DenseBlock(nn.Module):
    def __init__(self, num_convs, input_channels, num_channels):
        super(DenseBlock, self).__init__()
        layer = []
        for i in range(num_convs):
            layer.append(conv_block(num_channels * i + input_channels, num_channels))
        self.net = nn.Sequential(*layer)

    def forward(self, X):
        for blk in self.net:
            Y = blk(X)
            X = torch.cat((X, Y), dim=1)
        return X


def transition_block(input_channels, num_channels):
    return nn.Sequential(
        nn.BatchNorm2d(input_channels), nn.ReLU(),
        nn.Conv2d(input_channels, num_channels, kernel_size=1),
        nn.AvgPool2d(kernel_size=2, stride=2))


def densenet(side=96):
    b1 = nn.Sequential(nn.Conv2d(1, 64, kernel_size=7, stride=2, padding=3), nn.BatchNorm2d(64), nn.ReLU(),
                       nn.MaxPool2d(kernel_size=3, stride=2, padding=1))
    num_channels, growth_rate = 64, 32
    num_convs_in_dense_blocks = [4, 4, 4, 4]
    blks = []
    for i, num_convs in enumerate(num_convs_in_dense_blocks):
        blks.append(DenseBlock(num_convs, num_channels, growth_rate))
        num_channels += num_convs * growth_rate
        if i != len(num_convs_in_dense_blocks) - 1:
            blks.append(transition_block(num_channels, num_channels // 2))
            num_channels = num_channels // 2
    return nn.Sequential(b1, *blks, nn.BatchNorm2d(num_channels), nn.ReLU(),
                         nn.AdaptiveAvgPool2d((1, 1)), nn.Flatten(), nn.Linear(num_channels, 10))


BUILDERS = {'lenet': lenet, 'alexnet': alexnet, 'vgg11': vgg11, 'nin': nin, 'googlenet': googlenet,
            'resnet18': resnet18, 'densenet': densenet}


def build(entry):
    kwargs = {'side': entry['side']}
    if 'ratio' in entry['options']:
        kwargs['ratio'] = entry['options']['ratio']
    return BUILDERS[entry['name']](**kwargs)


# ---------------- the round trip ----------------
def run_driver(*args):
    cmd = ['npx', 'tsx', os.path.join(ROOT, 'scripts', 'export-zoo.ts'), *args]
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
