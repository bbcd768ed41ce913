"""`ecg-bot sandbox`: the real bot against the Bot API emulator, with a Telegram-like web chat,
simulated users and a mailbox showing what the bot mailed. The command is `bot.sandbox.main.sandbox_main`;
the server is :mod:`bot.sandbox.server`."""
