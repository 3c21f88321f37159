#!/usr/bin/python3
"""torch_seed_train.py — cross-check of ferc's trainer: the seed net with the same settings
(Glorot init, BN eps 1e-3 momentum 0.99 in Keras terms, Adam lr 1e-3 eps 1e-7, batch 64,
random 10% validation split) trained in PyTorch (Debian python3-torch). Usage:
    /usr/bin/python3 bench/torch_seed_train.py EPOCHS [CSV]
Prints loss, accuracy, validation and PublicTest accuracy per epoch."""
import gzip, numpy as np, torch, torch.nn as nn, time, sys
torch.set_num_threads(2); torch.manual_seed(1); np.random.seed(1)
rows = gzip.open(sys.argv[2] if len(sys.argv) > 2 else '../shared/data/fer2013/fer2013.csv.gz', 'rt').read().strip().split('\n')[1:]
X=[];Y=[];U=[]
for r in rows:
    e,p,u=r.split(','); X.append(np.array(p.split(),dtype=np.float32)/255.0); Y.append(int(e)); U.append(u)
X=np.stack(X).reshape(-1,1,48,48); Y=np.array(Y); U=np.array(U)
tr=np.where(U=='Training')[0]; te=np.where(U=='PublicTest')[0]
perm=np.random.permutation(tr); nv=len(tr)//10; va=perm[:nv]; tr=perm[nv:]
def block(i,o): return [nn.Conv2d(i,o,3,padding=1),nn.BatchNorm2d(o,eps=1e-3,momentum=0.01),nn.ReLU(),nn.MaxPool2d(2),nn.Dropout(0.25)]
m=nn.Sequential(*block(1,32),*block(32,64),*block(64,128),nn.Flatten(),nn.Linear(4608,128),nn.ReLU(),nn.Linear(128,7))
for mod in m:
    if isinstance(mod,(nn.Conv2d,nn.Linear)): nn.init.xavier_uniform_(mod.weight); nn.init.zeros_(mod.bias)
opt=torch.optim.Adam(m.parameters(),lr=1e-3,eps=1e-7); lf=nn.CrossEntropyLoss()
Xt=torch.from_numpy(X); Yt=torch.from_numpy(Y)
def acc(idx):
    m.eval(); c=0
    with torch.no_grad():
        for i in range(0,len(idx),512):
            b=idx[i:i+512]; c+=(m(Xt[b]).argmax(1)==Yt[b]).sum().item()
    return c/len(idx)
for ep in range(int(sys.argv[1])):
    m.train(); t0=time.time(); p=np.random.permutation(tr); tl=0;tc=0
    for i in range(0,len(p),64):
        b=p[i:i+64]; opt.zero_grad(); z=m(Xt[b]); l=lf(z,Yt[b]); l.backward(); opt.step(); tl+=l.item()*len(b); tc+=(z.argmax(1)==Yt[b]).sum().item()
    print(f"epoch {ep+1} {time.time()-t0:.0f}s loss {tl/len(p):.4f} acc {tc/len(p):.4f} val {acc(va):.4f} test {acc(te):.4f}", flush=True)
