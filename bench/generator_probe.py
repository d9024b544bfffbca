#!/usr/bin/env python3
"""Scores a trained generator's checkpoint without taggan eval: loads G from W/models/MODE
(safetensors + checkpoint.json), samples 100 vectors per validation/test image at noise
scales 1, 0.5, 0.25, 0, and ranks every training tag by kernel density
log mean_s exp(kappa (cos - 1)). Prints P@5 / mAP per split, noise and kappa. The
"probe" rows of BENCHMARKS.md (Tag quality) come from this script. A measurement aid,
never part of taggan's run path.

    python3 bench/generator_probe.py W/models/cgan [V.bin]    # vectors: default W/vectors.bin
"""
import sys, os
sys.path.insert(0, os.path.dirname(__file__))
import json, struct
from wordspace_probe import load as load_workspace, read_word2vec as load_vectors, precision_at as p_at, mean_ap
import numpy as np
W = os.path.dirname(os.path.dirname(os.path.abspath(sys.argv[1].rstrip('/'))))
def load(): return load_workspace(W)
def ap_map(scores, truth, n): return mean_ap(scores, truth)
md=sys.argv[1]
c=json.load(open(md+'/checkpoint.json')); cfg=c['configuration']
f=open(md+'/'+c['weights'],'rb'); n=struct.unpack('<Q',f.read(8))[0]; h=json.loads(f.read(n)); base=8+n
def T(name):
    e=h[name]; a,b=e['data_offsets']; f.seek(base+a); return np.frombuffer(f.read(b-a),np.float32).reshape(e['shape'])
Wf,bf,Wn,bn,Wo,bo=[T('generator.'+k) for k in ['feature.weight','feature.bias','noise.weight','noise.bias','output.weight','output.bias']]
X,S,Tg=load(); words,V=load_vectors(sys.argv[2] if len(sys.argv) > 2 else W+'/vectors.bin'); widx={w:i for i,w in enumerate(words)}
tr=S=='train'; va=S=='validation'; te=S=='test'
tagnames=sorted(set().union(*[Tg[i] for i in np.where(tr)[0]])); tagnames=[t for t in tagnames if t in widx]
tid={t:i for i,t in enumerate(tagnames)}; truth=[set(tid[t] for t in ts if t in tid) for ts in Tg]
TV=V[[widx[t] for t in tagnames]]; TV=TV/np.linalg.norm(TV,axis=1,keepdims=True)
Xc=X-np.array(cfg['feature_mean'],np.float32); Xc/=np.linalg.norm(Xc,axis=1,keepdims=True)
rng=np.random.default_rng(0)
def gen(idx,S=100,scale=1.0):
    hx=np.maximum(Xc[idx]@Wf+bf,0)@Wo[500:]+bo   # N x 200
    z=rng.standard_normal((S,100)).astype(np.float32)*scale
    hz=np.maximum(z@Wn+bn,0)@Wo[:500]            # S x 200
    g=hx[:,None,:]+hz[None]; g/=np.linalg.norm(g,axis=2,keepdims=True); return g  # N x S x D
for split,mask in [('val',va),('test',te)]:
    idx=np.where(mask)[0]; tru=[truth[i] for i in idx]
    for scale in [1.0,0.5,0.25,0.0]:
        g=gen(idx,100,scale); cos=g@TV.T  # N x S x T
        out=[]
        for kappa in [1,5,20,50]:
            sc=np.log(np.exp(kappa*(cos-1)).mean(1)+1e-30)
            out.append(f'k{kappa} {p_at(sc,tru):.3f}/{ap_map(sc,tru,len(tagnames)):.3f}')
        print(split,'noise',scale,' '.join(out),flush=True)
