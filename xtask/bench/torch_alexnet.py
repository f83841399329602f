"""PyTorch side of `cargo xtask bench`: the identical network, timed the same way.

The network is read from the JSON that our benchmark prints
(`throughput --config-json PRESET`), so both sides build the same layers:
conv(k, stride, pad, groups) -> ReLU, ceil-mode 3x3/2 max pooling after
conv1, conv2 and conv5, LRN (size 5, alpha 1e-4, beta 0.75, k 1) after
pool1 and pool2, fc6/fc7 with ReLU and dropout 0.5, fc8. Training is
forward, cross-entropy, backward and SGD (lr 0.001, momentum 0.9,
weight decay 5e-4); forward is eval() under no_grad(). Each timed step ends
by reading a scalar back, as ours does. Prints one RESULT line per mode.

    python torch_alexnet.py CONFIG.json [--device cpu|cuda] [--threads N]
                            [--batch 128] [--steps 20] [--warmup 3] [--tf32]
"""

import argparse
import json
import statistics
import time

import torch
from torch import nn


def blocks(cfg):
    """The eight layer blocks (conv, ReLU, pool, LRN; fc, ReLU, dropout) and
    the input shape of each (without the batch)."""
    out, shapes = [], []
    cin = cfg["in_channels"]
    side = cfg["image_size"]
    lrn = cfg["lrn"]
    for i, c in enumerate(cfg["conv"]):
        shapes.append((cin, side, side))
        layers = [nn.Conv2d(cin, c["channels"], c["kernel"], c["stride"], c["pad"], groups=c["groups"]), nn.ReLU(inplace=True)]
        side = (side + 2 * c["pad"] - c["kernel"]) // c["stride"] + 1
        if i in (0, 1, 4):
            layers.append(nn.MaxPool2d(3, 2, ceil_mode=True))
            side = -(-(side - 3) // 2) + 1
        if i in (0, 1):
            layers.append(nn.LocalResponseNorm(lrn["size"], lrn["alpha"], lrn["beta"], lrn["k"]))
        cin = c["channels"]
        out.append(nn.Sequential(*layers))
    fc6, fc7 = cfg["fc"]
    p = cfg["dropout"]
    shapes += [(cin, side, side), (fc6,), (fc7,)]
    out += [
        nn.Sequential(nn.Flatten(), nn.Linear(cin * side * side, fc6), nn.ReLU(inplace=True), nn.Dropout(p)),
        nn.Sequential(nn.Linear(fc6, fc7), nn.ReLU(inplace=True), nn.Dropout(p)),
        nn.Sequential(nn.Linear(fc7, cfg["num_outputs"])),
    ]
    for b in out:
        for m in b.modules():
            if isinstance(m, (nn.Conv2d, nn.Linear)):
                nn.init.normal_(m.weight, 0.0, 0.01)
                nn.init.zeros_(m.bias)
    return out, shapes


def build(cfg):
    return nn.Sequential(*blocks(cfg)[0])


def flops(cfg):
    """Forward and training FLOPs per image (2 x MACs, conv + linear), as ours."""
    macs = []
    cin, side = cfg["in_channels"], cfg["image_size"]
    for i, c in enumerate(cfg["conv"]):
        o = (side + 2 * c["pad"] - c["kernel"]) // c["stride"] + 1
        macs.append(o * o * c["channels"] * (cin // c["groups"]) * c["kernel"] ** 2)
        side = -(-(o - 3) // 2) + 1 if i in (0, 1, 4) else o
        cin = c["channels"]
    fc6, fc7 = cfg["fc"]
    macs += [cin * side * side * fc6, fc6 * fc7, fc7 * cfg["num_outputs"]]
    fwd = 2 * sum(macs)
    return fwd, 3 * fwd - 2 * macs[0]


def measure(step, warmup, steps):
    for _ in range(warmup):
        step()
    walls = []
    c0 = time.process_time()
    for _ in range(steps):
        t = time.perf_counter()
        step()
        walls.append(time.perf_counter() - t)
    return statistics.median(walls), (time.process_time() - c0) / steps


def fwd_and_bwd(module, x, xg, a):
    """Median seconds of module(x) under no_grad, and of forward + backward
    from xg (which requires a gradient except for layer 1)."""

    def fwd():
        with torch.no_grad():
            module(x).sum().item()

    def both():
        y = module(xg).sum()
        y.item()
        y.backward()

    return measure(fwd, a.warmup, a.steps)[0], measure(both, a.warmup, a.steps)[0]


def breakdown(cfg, a, dev, engine):
    """As our `--breakdown`: each block alone, forward (no_grad) and forward +
    backward (input gradient except for layer 1), in milliseconds."""
    bs, shapes = blocks(cfg)
    total = 0.0
    for k, (b, shape) in enumerate(zip(bs, shapes), start=1):
        b = b.to(dev).train()
        x = torch.randn(a.batch, *shape, device=dev)
        xg = x.clone().requires_grad_(k > 1)
        f, fb = fwd_and_bwd(b, x, xg, a)
        total += fb
        # the convolution alone (layers 1-5)
        cf, cb = fwd_and_bwd(b[0], x, xg, a) if k <= 5 else (float("nan"), float("nan"))
        print(
            f"BLOCK engine={engine} preset={cfg['preset']} layer={k} fwd_ms={f * 1e3:.2f} fwdbwd_ms={fb * 1e3:.2f} "
            f"conv_fwd_ms={cf * 1e3:.2f} conv_fwdbwd_ms={cb * 1e3:.2f}",
            flush=True,
        )
    return total


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("config")
    ap.add_argument("--device", default="cpu")
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on CUDA (PyTorch's cuDNN default); off = strict fp32")
    ap.add_argument("--breakdown", action="store_true", help="milliseconds per layer block instead (BLOCK lines)")
    a = ap.parse_args()
    with open(a.config) as f:
        cfg = json.load(f)
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = a.tf32
        torch.backends.cuda.matmul.allow_tf32 = a.tf32
    torch.manual_seed(0)
    engine = "pytorch-" + torch.__version__.split("+")[0] + ("-tf32" if a.tf32 and dev.type == "cuda" else "")
    total = breakdown(cfg, a, dev, engine) if a.breakdown else None
    net = build(cfg).to(dev)
    side = cfg["image_size"]
    x = torch.randn(a.batch, cfg["in_channels"], side, side, device=dev) * 50
    y = (torch.arange(a.batch, device=dev) % min(10, cfg["num_outputs"])).long()
    f_fwd, f_train = flops(cfg)
    threads = torch.get_num_threads() if dev.type == "cpu" else 0

    net.eval()

    def fwd():
        with torch.no_grad():
            net(x).sum().item()

    fw = measure(fwd, a.warmup, a.steps)
    net.train()
    opt = torch.optim.SGD(net.parameters(), lr=0.001, momentum=0.9, weight_decay=5e-4)
    loss_fn = nn.CrossEntropyLoss()

    def train():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(net(x), y)
        loss.backward()
        opt.step()
        loss.item()

    tr = measure(train, a.warmup, a.steps)
    if total is not None:
        print(f"BLOCK engine={engine} preset={cfg['preset']} layer=rest fwd_ms=0.00 fwdbwd_ms={(tr[0] - total) * 1e3:.2f}", flush=True)
        return
    for mode, (wall, cpu), fl in (("forward", fw, f_fwd), ("train", tr, f_train)):
        print(
            f"RESULT engine={engine} preset={cfg['preset']} mode={mode} threads={threads} batch={a.batch} "
            f"steps={a.steps} img_s={a.batch / wall:.3f} cpu_s_per_img={cpu / a.batch:.6f} flop_per_img={fl}",
            flush=True,
        )


if __name__ == "__main__":
    main()
