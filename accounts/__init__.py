"""Accounts domain: users, passwords, activation, sessions (JWT), password reset, mail. Never imports
telegram. `accounts.service.AccountService` is the one entry point; its use-cases live in `registration`,
`sessions` (login and sessions) and `password_reset`, on the shared `base`."""
