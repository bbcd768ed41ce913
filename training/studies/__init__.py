"""One-off measurements behind figures quoted in the model card (run: `python -m training.studies.<name>`)."""
