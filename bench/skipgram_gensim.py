#!/usr/bin/env python3
"""gensim 4.4 Word2Vec(sg=1) on the same corpus and settings as `taggan vectors train`,
for bench/skipgram.sh. Prints one JSON object on stdout.

    skipgram_gensim.py CORPUS OUT.bin --dim 200 --window 5 --negative 5 --min-count 5 \
        --sample 1e-3 --epochs 5 --threads 2 [--corpus-file]

The corpus is first tokenised with taggan's rule (Ingest/TextCorpus.swift: lowercase,
runs of letters and digits, an apostrophe between two of them kept, U+2019 read as ')
into a temporary file of space-separated tokens, one document per line; that step is
not timed. gensim then trains from LineSentence over that file (its usual streaming
input), or with --corpus-file from corpus_file= (its multi-threaded file reader).
"""
import argparse
import json
import logging
import os
import re
import sys
import tempfile
import time

import gensim
from gensim.models import Word2Vec
from gensim.models.word2vec import LineSentence

TOKEN = re.compile(r"\w+(?:'\w+)*")  # letters, digits, underscores; inner apostrophes


def tokens(line):
    return TOKEN.findall(line.lower().replace("\u2019", "'"))


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("corpus")
    parser.add_argument("out")
    parser.add_argument("--dim", type=int, default=200)
    parser.add_argument("--window", type=int, default=5)
    parser.add_argument("--negative", type=int, default=5)
    parser.add_argument("--min-count", type=int, default=5)
    parser.add_argument("--sample", type=float, default=1e-3)
    parser.add_argument("--epochs", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--corpus-file", action="store_true")
    args = parser.parse_args()
    logging.basicConfig(format="gensim: %(message)s", level=logging.WARNING, stream=sys.stderr)

    handle, tokenised = tempfile.mkstemp(suffix=".txt", prefix="skipgram-tokens-")
    corpus_tokens = 0
    with os.fdopen(handle, "w", encoding="utf-8") as out, open(args.corpus, encoding="utf-8") as f:
        for line in f:
            words = tokens(line)
            corpus_tokens += len(words)
            if words:
                out.write(" ".join(words) + "\n")
    try:
        model = Word2Vec(vector_size=args.dim, window=args.window, negative=args.negative, hs=0,
                         min_count=args.min_count, sample=args.sample, sg=1, workers=args.threads,
                         seed=args.seed, epochs=args.epochs)
        start = time.perf_counter()
        if args.corpus_file:
            model.build_vocab(corpus_file=tokenised)
        else:
            model.build_vocab(LineSentence(tokenised))
        vocab_seconds = time.perf_counter() - start
        start = time.perf_counter()
        if args.corpus_file:
            model.train(corpus_file=tokenised, total_examples=model.corpus_count,
                        total_words=model.corpus_total_words, epochs=args.epochs)
        else:
            model.train(LineSentence(tokenised), total_examples=model.corpus_count, epochs=args.epochs)
        seconds = time.perf_counter() - start
    finally:
        os.unlink(tokenised)
    model.wv.save_word2vec_format(args.out, binary=True)
    print(json.dumps({
        "gensim": gensim.__version__, "input": "corpus_file" if args.corpus_file else "LineSentence",
        "vocabulary": len(model.wv), "corpus_tokens": corpus_tokens,
        "seconds": round(seconds, 3), "vocabulary_seconds": round(vocab_seconds, 3),
        "raw_words_per_second": round(args.epochs * corpus_tokens / seconds),
    }))


if __name__ == "__main__":
    main()
