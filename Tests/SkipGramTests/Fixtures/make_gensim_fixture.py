#!/usr/bin/env python3
"""Writes gensim-small.{bin,txt,json}: word vectors saved by gensim 4.4.0 itself, so the
SkipGram tests can check that taggan reads gensim's word2vec files with identical values.

    python3 -m venv /tmp/venv && /tmp/venv/bin/pip install gensim==4.4.0
    /tmp/venv/bin/python Tests/SkipGramTests/Fixtures/make_gensim_fixture.py

gensim-small.bin / .txt: KeyedVectors.save_word2vec_format(binary=True / False).
gensim-small.json: {"gensim": version, "dimension": D, "words": [...], "vectors": [[...]]}
with each float32 value written as the decimal of its exact double (json repr), so the
test compares bit for bit. Training is seeded and single-threaded, but the test never
depends on the values being reproducible: it compares the three files with each other.
"""
import json
import os

import gensim
import numpy as np
from gensim.models import Word2Vec

here = os.path.dirname(os.path.abspath(__file__))
sentences = [
    "the king rules the kingdom with the queen".split(),
    "the queen rules the kingdom with the king".split(),
    "a man and a woman walk to the castle".split(),
    "the prince and the princess live in the castle".split(),
    "café crème and don't forget the naïve résumé".split(),
] * 20
model = Word2Vec(sentences, vector_size=8, window=2, min_count=1, sg=1, negative=3,
                 epochs=3, seed=7, workers=1)
kv = model.wv
kv.save_word2vec_format(os.path.join(here, "gensim-small.bin"), binary=True)
kv.save_word2vec_format(os.path.join(here, "gensim-small.txt"), binary=False)
vectors = kv.vectors.astype(np.float32)
with open(os.path.join(here, "gensim-small.json"), "w", encoding="utf-8") as f:
    json.dump({"gensim": gensim.__version__, "dimension": int(vectors.shape[1]),
               "words": list(kv.index_to_key),
               "vectors": [[float(v) for v in row] for row in vectors]}, f, ensure_ascii=False)
    f.write("\n")
print(f"wrote {len(kv.index_to_key)} words x {vectors.shape[1]} with gensim {gensim.__version__}")
