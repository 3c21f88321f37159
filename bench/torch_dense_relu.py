#!/usr/bin/python3
"""torch_dense_relu.py — why seed2 has batch norm on its dense layer: the same
64/128/256 double-conv net at 40x40 with a plain dense256 -> ReLU -> dropout 0.5
(Glorot-uniform init, BN eps 1e-3 / momentum 0.99 in Keras terms, Adam lr 1e-3
eps 1e-7, batch 32, classes drawn equally often, horizontal flips), trained in
PyTorch (Debian python3-torch) on the first 8,000 FER2013 rows. Prints, every 25 steps,
the batch loss and how many of the 256 dense ReLUs are dead (zero for all 512
faces of a fixed probe set); with `bn` as argument the dense layer gets batch norm.
    /usr/bin/python3 bench/torch_dense_relu.py [plain|bn] [STEPS] [CSV]
A loss stuck near ln 7 = 1.946 with 256/256 dead units means the net has stopped learning."""
import gzip, sys, numpy as np, torch, torch.nn as nn, torch.nn.functional as F
torch.set_num_threads(2); torch.manual_seed(1); np.random.seed(1)
dense_bn = len(sys.argv) > 1 and sys.argv[1] == 'bn'
steps = int(sys.argv[2]) if len(sys.argv) > 2 else 101
path = sys.argv[3] if len(sys.argv) > 3 else '../shared/data/fer2013/fer2013.csv.gz'
rows = gzip.open(path, 'rt').read().strip().split('\n')[1:8001]
X = np.stack([np.array(r.split(',')[1].split(), dtype=np.float32) / 255 for r in rows]).reshape(-1, 1, 48, 48)
Y = torch.tensor([int(r.split(',')[0]) for r in rows])
X = F.interpolate(torch.from_numpy(X), size=(40, 40), mode='bilinear', align_corners=False)
def blk(i, o): return [nn.Conv2d(i, o, 3, padding=1), nn.BatchNorm2d(o, eps=1e-3, momentum=0.01), nn.ReLU()]
m = nn.Sequential(*blk(1, 64), *blk(64, 64), nn.MaxPool2d(2), nn.Dropout(0.25),
                  *blk(64, 128), *blk(128, 128), nn.MaxPool2d(2), nn.Dropout(0.25),
                  *blk(128, 256), *blk(256, 256), nn.MaxPool2d(2), nn.Dropout(0.25),
                  nn.Flatten(), nn.Linear(6400, 256),
                  *([nn.BatchNorm1d(256, eps=1e-3, momentum=0.01)] if dense_bn else []),
                  nn.ReLU(), nn.Dropout(0.5), nn.Linear(256, 7))
for mod in m:
    if isinstance(mod, (nn.Conv2d, nn.Linear)): nn.init.xavier_uniform_(mod.weight); nn.init.zeros_(mod.bias)
opt = torch.optim.Adam(m.parameters(), lr=1e-3, eps=1e-7)
w = 1.0 / np.bincount(Y.numpy(), minlength=7)[Y.numpy()]
idx = np.random.choice(len(Y), 32 * steps, p=w / w.sum())
probe = X[:512]
relu_at = len(m) - 3   # the dense ReLU
def dead():
    with torch.no_grad():
        h = m[:relu_at + 1](probe)   # train mode: batch statistics, as in training
    return int((h.max(0).values <= 0).sum())
m.train()
for s in range(steps):
    b = idx[32 * s:32 * (s + 1)]
    xb = X[b].clone(); flip = torch.rand(len(b)) < 0.5; xb[flip] = xb[flip].flip(-1)
    opt.zero_grad(); loss = F.cross_entropy(m(xb), Y[b]); loss.backward(); opt.step()
    if s % 25 == 0: print(f"{'bn' if dense_bn else 'plain'} step {s} loss {loss.item():.4f} dead dense units {dead()}/256", flush=True)
