"""Reading ECGs off pictures and diagnosing them (no Telegram imports here).

    from inference.analysis import analyse
    a = analyse(image_bytes)   # a.result: diagnosis or refusal (reason code), a.heatmap (PNG), a.digitized

`inference.reading.read_ecg` reads the page (image_io -> sheet -> ecg_check -> grid -> digitize -> measure);
`inference.analysis` diagnoses it (`diagnosis` combines `measure_model` over the `features` and `signal_model` over
the signals; `explain` says why) and draws the
heat map (`classifier` for the image model's class-activation maps, `heatmap` to lay them over the page).
Everything is synchronous and CPU-bound: run it in a worker thread. Models are loaded once per process.
This package's `__init__` imports nothing, so its modules can import each other without a cycle.
"""
