#!/usr/bin/env python3
"""Writes N photo-sized JPEGs (default 200 at 2400x1600, quality 90, 4:2:0) for the
JPEG decoding benchmark; `make_photo_jpegs.py OUT N WIDTH HEIGHT` for other sizes
(500 333 is MIR Flickr's typical size).

No folder of real photos can be downloaded here, so each picture is a mosaic of
random crops of scikit-image's bundled photographs (astronaut, coffee, chelsea,
rocket, motorcycle, hubble deep field, ...) at their native resolution, randomly
flipped and slightly brightness-shifted: per pixel it has a real photo's texture,
so the entropy-coded data, and the decoding work, are those of a photograph.
Deterministic (seeded). Needs scikit-image and Pillow (bench/jpeg.sh installs them
in a virtual environment).
"""
import os
import random
import sys

import numpy as np
from PIL import Image
from skimage import data

out = sys.argv[1]
count = int(sys.argv[2]) if len(sys.argv) > 2 else 200
width = int(sys.argv[3]) if len(sys.argv) > 3 else 2400
height = int(sys.argv[4]) if len(sys.argv) > 4 else 1600
os.makedirs(out, exist_ok=True)

photos = []
for name in ["astronaut", "coffee", "chelsea", "rocket", "hubble_deep_field",
             "immunohistochemistry", "retina", "cat", "colorwheel"]:
    try:
        image = getattr(data, name)()
    except Exception:
        continue
    if image.ndim == 3 and image.shape[2] >= 3:
        photos.append(np.ascontiguousarray(image[:, :, :3]))
try:
    left, right, _ = data.stereo_motorcycle()
    photos += [left, right]
except Exception:
    pass

rng = random.Random(2014)
for n in range(count):
    canvas = np.zeros((height, width, 3), dtype=np.uint8)
    y = 0
    while y < height:
        x = 0
        row_height = rng.randint(min(180, height), min(420, height))
        while x < width:
            photo = rng.choice(photos)
            h = min(row_height, photo.shape[0], height - y)
            w = min(rng.randint(min(200, width), min(500, width)), photo.shape[1], width - x)
            top = rng.randint(0, photo.shape[0] - h)
            left_edge = rng.randint(0, photo.shape[1] - w)
            patch = photo[top:top + h, left_edge:left_edge + w].astype(np.int16)
            if rng.random() < 0.5:
                patch = patch[:, ::-1]
            patch = np.clip(patch + rng.randint(-20, 20), 0, 255).astype(np.uint8)
            canvas[y:y + h, x:x + w] = patch
            x += w
        y += row_height
    Image.fromarray(canvas).save(os.path.join(out, f"photo-{n:03d}.jpg"), quality=90, subsampling=2)
print(f"wrote {count} JPEGs of {width}x{height} to {out}")
