# Writes test/optim/torch_reference.json: PyTorch 1.13 trajectories the optim tests compare with.
#   /usr/bin/python3 test/optim/torch_reference.py
# Inputs are small float32 tensors (n = 7: the scalar kernel path; n = 8: the vec4 path) and 5
# gradients per tensor whose size shrinks over the steps (so amsgrad's running max matters).
import json, math
import torch

torch.set_default_dtype(torch.float32)
STEPS = 5


def vals(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def inputs(n, seed):
    p0 = torch.tensor([math.sin(seed + 1.7 * i) * 0.8 for i in range(n)], dtype=torch.float32)
    grads = [torch.tensor([math.cos(seed * 0.3 + 1.3 * i + t) * (1.5 / (t + 1)) + 0.05 * (i % 3) for i in range(n)],
                          dtype=torch.float32) for t in range(STEPS)]
    return p0, grads


def run_opt(make, n, seed, sched=None):
    """make(params) -> optimizer over one tensor; returns inputs and the parameter after each step."""
    p0, grads = inputs(n, seed)
    p = p0.clone().requires_grad_()
    opt = make([p])
    s = sched(opt) if sched else None
    traj, lrs, state = [], [], None
    for g in grads:
        p.grad = g.clone()
        opt.step()
        traj.append(vals(p))
        lrs.append([float(x['lr']) for x in opt.param_groups])
        if s:
            s.step()
    st = opt.state[p]
    state = {k: (vals(v) if torch.is_tensor(v) and v.numel() > 1 else float(v)) for k, v in st.items()}
    return {'n': n, 'seed': seed, 'p0': vals(p0), 'grads': [vals(g) for g in grads], 'traj': traj, 'lrs': lrs, 'state': state}


out = {'adam': [], 'adamw': [], 'rmsprop': [], 'withScheduler': [], 'groups': None, 'schedulers': {}, 'clip': []}

adam_cases = [
    {'lr': 0.1},
    {'lr': 0.05, 'weight_decay': 0.1},
    {'lr': 0.1, 'betas': (0.8, 0.9), 'amsgrad': True},
    {'lr': 0.1, 'eps': 1e-3, 'maximize': True, 'weight_decay': 0.01, 'amsgrad': True},
]
for i, kw in enumerate(adam_cases):
    for n in (7, 8):
        r = run_opt(lambda ps: torch.optim.Adam(ps, **kw), n, i + n)
        r['opts'] = kw
        out['adam'].append(r)

adamw_cases = [{'lr': 0.1}, {'lr': 0.1, 'weight_decay': 0.5, 'amsgrad': True}, {'lr': 0.02, 'betas': (0.5, 0.6), 'eps': 1e-2}]
for i, kw in enumerate(adamw_cases):
    for n in (7, 8):
        r = run_opt(lambda ps: torch.optim.AdamW(ps, **kw), n, 10 + i + n)
        r['opts'] = kw
        out['adamw'].append(r)

rms_cases = [
    {'lr': 0.01},
    {'lr': 0.01, 'momentum': 0.9},
    {'lr': 0.01, 'centered': True, 'weight_decay': 0.1},
    {'lr': 0.02, 'centered': True, 'momentum': 0.5, 'alpha': 0.9, 'maximize': True},
]
for i, kw in enumerate(rms_cases):
    for n in (7, 8):
        r = run_opt(lambda ps: torch.optim.RMSprop(ps, **kw), n, 20 + i + n)
        r['opts'] = kw
        out['rmsprop'].append(r)

# optimizers driven by a scheduler (lr, and OneCycleLR's momentum / beta1)
sched_cases = [
    ('SGD', {'lr': 0.1, 'momentum': 0.9, 'weight_decay': 1e-3}, 'OneCycleLR', {'max_lr': 0.1, 'total_steps': 6}),
    ('SGD', {'lr': 0.1, 'weight_decay': 1e-3}, 'OneCycleLR', {'max_lr': 0.1, 'total_steps': 6}),
    ('Adam', {'lr': 0.1, 'amsgrad': True}, 'OneCycleLR', {'max_lr': 0.2, 'total_steps': 5, 'three_phase': True}),
    ('AdamW', {'lr': 0.1, 'weight_decay': 0.1}, 'CosineAnnealingLR', {'T_max': 3, 'eta_min': 0.01}),
    ('RMSprop', {'lr': 0.01, 'momentum': 0.5}, 'OneCycleLR', {'max_lr': 0.05, 'total_steps': 5, 'anneal_strategy': 'linear'}),
]
for i, (oname, okw, sname, skw) in enumerate(sched_cases):
    for n in (7, 8):
        r = run_opt(lambda ps: getattr(torch.optim, oname)(ps, **okw), n, 30 + i + n,
                    lambda o: getattr(torch.optim.lr_scheduler, sname)(o, **skw))
        r.update({'optimizer': oname, 'opts': okw, 'scheduler': sname, 'schedOpts': skw})
        out['withScheduler'].append(r)

# parameter groups: Adam with two groups (weight decay only on the first, own lr on the second)
pa0, ga = inputs(7, 41)
pb0, gb = inputs(8, 42)
pa, pb = pa0.clone().requires_grad_(), pb0.clone().requires_grad_()
opt = torch.optim.Adam([{'params': [pa], 'weight_decay': 0.1}, {'params': [pb], 'lr': 0.3, 'amsgrad': True}], lr=0.1)
sch = torch.optim.lr_scheduler.StepLR(opt, step_size=2, gamma=0.5)
ta, tb, lrs = [], [], []
for t in range(STEPS):
    pa.grad, pb.grad = ga[t].clone(), gb[t].clone()
    opt.step()
    ta.append(vals(pa)); tb.append(vals(pb)); lrs.append([g['lr'] for g in opt.param_groups])
    sch.step()
out['groups'] = {'a': {'p0': vals(pa0), 'grads': [vals(g) for g in ga], 'traj': ta},
                 'b': {'p0': vals(pb0), 'grads': [vals(g) for g in gb], 'traj': tb}, 'lrs': lrs}


# learning-rate sequences: two groups, get_last_lr() after construction and after each of N steps
def lr_seq(make, n=20, lrs=(0.1, 0.02), opt_cls='SGD', opt_kw=None):
    ps = [torch.zeros(1, requires_grad=True) for _ in lrs]
    opt = getattr(torch.optim, opt_cls)([{'params': [p], 'lr': lr} for p, lr in zip(ps, lrs)], **(opt_kw or {'lr': 0.1}))
    s = make(opt)
    seq = [list(map(float, s.get_last_lr()))]
    mom = []

    def m():
        mom.append([float(g['betas'][0]) if 'betas' in g else float(g['momentum']) for g in opt.param_groups])
    m()
    for _ in range(n):
        opt.step()
        s.step()
        seq.append(list(map(float, s.get_last_lr())))
        m()
    return {'lrs': seq, 'momentum': mom}


S = torch.optim.lr_scheduler
out['schedulers'] = {
    'StepLR': lr_seq(lambda o: S.StepLR(o, step_size=3, gamma=0.5)),
    'MultiStepLR': lr_seq(lambda o: S.MultiStepLR(o, milestones=[2, 5, 5, 9], gamma=0.3)),
    'CosineAnnealingLR': lr_seq(lambda o: S.CosineAnnealingLR(o, T_max=4, eta_min=0.01), n=25),
    'CosineAnnealingLR_T7': lr_seq(lambda o: S.CosineAnnealingLR(o, T_max=7), n=30),
    'LinearLR': lr_seq(lambda o: S.LinearLR(o, start_factor=0.25, total_iters=4), n=8),
    'LinearLR_default': lr_seq(lambda o: S.LinearLR(o), n=8),
    'OneCycleLR': lr_seq(lambda o: S.OneCycleLR(o, max_lr=[1.0, 0.5], total_steps=12), n=11, opt_kw={'lr': 0.1, 'momentum': 0.9}),
    'OneCycleLR_three': lr_seq(lambda o: S.OneCycleLR(o, max_lr=0.3, epochs=3, steps_per_epoch=5, three_phase=True,
                                                       base_momentum=0.8, max_momentum=0.9), n=14, opt_cls='Adam'),
    'OneCycleLR_linear': lr_seq(lambda o: S.OneCycleLR(o, max_lr=0.3, total_steps=10, anneal_strategy='linear', pct_start=0.25,
                                                        div_factor=10, final_div_factor=100), n=9, opt_kw={'lr': 0.1, 'momentum': 0.5}),
    'SequentialLR': lr_seq(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.1, total_iters=3),
                                                        S.CosineAnnealingLR(o, T_max=6, eta_min=0.001)], milestones=[3]), n=15),
    'SequentialLR_three': lr_seq(lambda o: S.SequentialLR(o, [S.LinearLR(o, start_factor=0.5, total_iters=2),
                                                              S.StepLR(o, step_size=2, gamma=0.5),
                                                              S.MultiStepLR(o, milestones=[1, 3], gamma=0.1)], milestones=[3, 8]), n=14),
}

# clip_grad_norm_: three gradients (sizes 5, 8, 1), several norms and max norms
for norm_type, max_norm in [(2.0, 1.0), (2.0, 100.0), (1.0, 2.0), (float('inf'), 0.5), (3.0, 0.7), (0.5, 3.0)]:
    gs = [torch.tensor([math.sin(1.1 * i + k) * (k + 1) for i in range(sz)], dtype=torch.float32) for k, sz in enumerate((5, 8, 1))]
    ps = [torch.zeros(g.shape, requires_grad=True) for g in gs]
    for p, g in zip(ps, gs):
        p.grad = g.clone()
    total = torch.nn.utils.clip_grad_norm_(ps, max_norm, norm_type)
    out['clip'].append({'normType': 'inf' if math.isinf(norm_type) else norm_type, 'maxNorm': max_norm,
                        'grads': [vals(g) for g in gs], 'total': float(total), 'clipped': [vals(p.grad) for p in ps]})

out['torch'] = torch.__version__
with open(__file__.replace('.py', '.json'), 'w') as f:
    json.dump(out, f, indent=None, separators=(',', ':'))
print('wrote', __file__.replace('.py', '.json'))
