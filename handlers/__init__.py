"""The chat layer: Telegram updates in, calls on the domain, texts (`handlers/texts.py`) out.

`handlers.routes.register_handlers` wires every handler; `handlers.context` gives them the services.
"""
