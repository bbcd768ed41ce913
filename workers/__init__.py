"""Analyses on worker machines: a Celery app over Redis (`workers.celery_app`), the analysis task
(`workers.tasks`, run by `ecg-bot worker`) and the bot's side of it (`workers.client.RemoteAnalyses`).

Used only when ANALYSIS_BROKER_URL is set; otherwise the bot analyses in its own bounded queue
(`inference.queue.AnalysisQueue`)."""
