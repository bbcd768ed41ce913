"""One image → diagnosis and heat map, with the work done once.

`classify` followed by `heatmap_png` would decode and preprocess the page twice and run the backbone
three times (classification, then the heat map's class, then Grad-CAM). The bot always needs both,
so `analyse` prepares the page once and runs one graph that returns the crop probabilities and the
Grad-CAM of the page's top class together: one backbone pass plus the head's gradient.
"""

from __future__ import annotations

import threading

import numpy as np

from inference import preprocess as P
from inference.classifier import Result, get_classifier, overlay_png, refusal_for, refused, result_from_probs

_lock = threading.Lock()
_graph = None


def _build_graph(model):
    import tensorflow as tf

    to_pixels, to_rgb, backbone = model.get_layer("to_pixels"), model.get_layer("to_rgb"), model.get_layer("resnet50")
    gap, bn = model.get_layer("gap"), model.get_layer("head_bn")
    dense, probs = model.get_layer("head_dense"), model.get_layer("probs")

    @tf.function(reduce_retracing=True)
    def probabilities_and_cam(x):
        h = to_pixels(x)
        feats = backbone(to_rgb([h, h, h]), training=False)
        with tf.GradientTape() as tape:
            tape.watch(feats)
            p = probs(dense(bn(gap(feats), training=False), training=False))
            top = tf.argmax(tf.reduce_mean(p, axis=0))
            target = tf.reduce_mean(tf.gather(p, top, axis=1))
        grads = tape.gradient(target, feats)
        weights = tf.reduce_mean(grads, axis=(1, 2), keepdims=True)
        return p, tf.nn.relu(tf.reduce_sum(weights * feats, axis=-1))

    return probabilities_and_cam


def analyse(image_bytes: bytes, max_width: int = 1000) -> tuple[Result, bytes | None]:
    """(Result, heat-map PNG) for an ECG page; (refusal, None) for anything else. Thread-safe."""
    global _graph
    import tensorflow as tf

    try:
        prep = P.prepare(image_bytes)
    except P.NotAnImage:
        return refused("the file is not a readable image"), None
    refusal = refusal_for(prep)
    if refusal is not None:
        return refusal, None
    classifier = get_classifier()
    with _lock:
        if _graph is None:
            _graph = _build_graph(classifier.model)
        crop_probs, cams = _graph(tf.convert_to_tensor(prep.crops, tf.float32))
    cams = cams.numpy()
    result = result_from_probs(np.asarray(crop_probs).mean(axis=0))
    return result, overlay_png(prep, cams / (cams.max() + 1e-9), max_width)
