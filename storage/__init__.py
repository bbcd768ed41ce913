"""The one storage layer: every MongoDB repository of the bot, and the rules they share.

`storage.mongo` holds what all of them need (the client, epoch-millisecond time, the image hash, the
translation of an unreachable database into `StorageUnavailable`, the nx-27017 portability rules); one
module per aggregate holds its repository: `accounts` (collections and indexes of the account
use-cases), `practice` (practice state, cases, reminders), `history` (past analyses), `digitized`
(signals kept for the export button). No Telegram here, and nothing outside `storage/` and `accounts/`
imports pymongo.
"""
