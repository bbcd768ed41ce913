"""ECG page classifier: the bot's diagnosis engine (no Telegram imports here).

    from inference import classify, heatmap_png
    result = classify(image_bytes)      # -> Result (is_ecg, reason, label, display_name, confidence,
                                        #    uncertain, probabilities, top_two)
    png = heatmap_png(image_bytes)      # Grad-CAM overlay of the predicted class, PNG bytes

Both are synchronous and CPU-bound (~0.1-0.5 s): call them in a worker thread
(`await asyncio.to_thread(classify, data)`) so the event loop is not blocked. The model is loaded once
per process by `get_classifier()` (thread-safe); the first call pays the load (a few seconds).
An image that is not a 12-lead ECG page (or not an image at all) gives `Result(is_ecg=False, reason=...)`.
"""

from inference.classifier import Classifier, Result, classify, get_classifier, heatmap_png
from inference.labels import DISPLAY_NAMES, LABELS
from inference.preprocess import NotAnImage

__all__ = ["LABELS", "DISPLAY_NAMES", "Result", "Classifier", "classify", "heatmap_png", "get_classifier",
           "NotAnImage"]
