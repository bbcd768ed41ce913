"""The bot's diagnosis engine (no Telegram imports here).

    from inference import classify, heatmap_png
    result = classify(image_bytes)      # -> Result (is_ecg, reason, label, display_name, confidence,
                                        #    uncertain, probabilities, top_two, measurements, reasons)
    png = heatmap_png(image_bytes)      # class-activation overlay of the diagnosed class, PNG bytes

Both read the page (`inference.reading`: sheet, grid, signals, measurements) and diagnose it from the
measurements (`inference.measure_model`); `inference.analysis.analyse` does both at once, as the bot
does. They are synchronous and CPU-bound (~0.3-1 s): call them in a worker thread
(`await asyncio.to_thread(classify, data)`) so the event loop is not blocked. Models are loaded once per
process (thread-safe); the first call pays the load (a few seconds).
An image that is not a 12-lead ECG page (or not an image at all) gives `Result(is_ecg=False, reason=...)`.
"""

from inference.analysis import analyse, classify, heatmap_png
from inference.classifier import Classifier, Result, get_classifier
from inference.labels import DISPLAY_NAMES, LABELS
from inference.preprocess import NotAnImage

__all__ = ["LABELS", "DISPLAY_NAMES", "Result", "Classifier", "analyse", "classify", "heatmap_png", "get_classifier",
           "NotAnImage"]
