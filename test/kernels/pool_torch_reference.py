# Writes pool_torch_reference.json: PyTorch's outputs and input gradients for the pooling cases
# the pooling tests compare against (run with /usr/bin/python3 and torch; float64).
#   x[i] = ((37 i) mod 23 - 11) / 8, dL/dy[i] = ((13 i) mod 7 - 3) / 4 (flat row-major indices)
import json, os
import torch
import torch.nn.functional as F

def data(n, a, m, c, d):
    return [((i * a) % m - c) / d for i in range(n)]

CASES = [
    # op, input shape, args (the library's option names)
    ('avgPool2d', [1, 2, 6, 7], dict(kernel=3, stride=2, padding=1, ceilMode=True)),
    ('avgPool2d', [1, 2, 6, 7], dict(kernel=3, stride=2, padding=1, ceilMode=True, countIncludePad=False)),
    ('avgPool2d', [2, 1, 5, 5], dict(kernel=[2, 3], stride=2, padding=[0, 1], ceilMode=True)),
    ('avgPool2d', [1, 1, 6, 6], dict(kernel=3, stride=2, padding=0, ceilMode=True)),
    ('avgPool2d', [1, 1, 4, 5], dict(kernel=3, stride=1, padding=1, divisorOverride=4)),
    ('avgPool2d', [1, 1, 4, 4], dict(kernel=5, stride=2, padding=0, ceilMode=True)),
    ('maxPool2d', [1, 2, 6, 7], dict(kernel=3, stride=2, padding=0, ceilMode=True)),
    ('maxPool2d', [1, 1, 6, 6], dict(kernel=3, stride=2, padding=1, ceilMode=True)),
    ('adaptiveAvgPool2d', [1, 2, 7, 5], dict(out=[3, 4])),
    ('adaptiveAvgPool2d', [1, 1, 3, 4], dict(out=[5, 7])),
    ('adaptiveAvgPool2d', [2, 3, 3, 5], dict(out=[1, 1])),
    # 4 planes of 13 x 13 / 9 x 7: one packed group, the streamed kernels on software adapters
    ('adaptiveAvgPool2d', [2, 2, 13, 13], dict(out=[6, 6])),
    ('adaptiveAvgPool2d', [1, 4, 9, 7], dict(out=[4, 3])),
    ('adaptiveMaxPool2d', [1, 2, 7, 5], dict(out=[3, 4])),
    ('adaptiveMaxPool2d', [1, 1, 2, 5], dict(out=[5, 3])),
]

def run(op, shape, a):
    n = 1
    for d in shape:
        n *= d
    x = torch.tensor(data(n, 37, 23, 11, 8), dtype=torch.float64).reshape(shape).requires_grad_(True)
    if op == 'avgPool2d':
        y = F.avg_pool2d(x, a['kernel'], a['stride'], a['padding'], ceil_mode=a.get('ceilMode', False),
                         count_include_pad=a.get('countIncludePad', True), divisor_override=a.get('divisorOverride'))
    elif op == 'maxPool2d':
        y = F.max_pool2d(x, a['kernel'], a['stride'], a['padding'], ceil_mode=a.get('ceilMode', False))
    elif op == 'adaptiveAvgPool2d':
        y = F.adaptive_avg_pool2d(x, a['out'])
    else:
        y = F.adaptive_max_pool2d(x, a['out'])
    g = torch.tensor(data(y.numel(), 13, 7, 3, 4), dtype=torch.float64).reshape(y.shape)
    y.backward(g)
    r = lambda t: [round(v, 12) for v in t.flatten().tolist()]
    return dict(op=op, shape=shape, args=a, outShape=list(y.shape), y=r(y), gx=r(x.grad))

out = dict(torch=torch.__version__, cases=[run(*c) for c in CASES])
path = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'pool_torch_reference.json')
with open(path, 'w') as f:
    json.dump(out, f, indent=None, separators=(',', ':'))
    f.write('\n')
