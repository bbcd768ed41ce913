"""Application wiring: embedded or real services, the PTB application, start and stop.

`BotRuntime` is used by `ecg-bot run`, by `ecg-bot sandbox` and by the end-to-end tests, so the
bot under test is exactly the bot that ships.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import TYPE_CHECKING

from pymongo import AsyncMongoClient
from telegram import BotCommand, Update
from telegram.constants import ParseMode
from telegram.ext import Application, ApplicationBuilder, ContextTypes, Defaults

from accounts.clock import Clock, SystemClock
from accounts.mailer import Mailer, SmtpMailer
from accounts.service import AccountService
from bot import log_redaction
from bot.config import Settings, resolve_jwt_secret
from bot.embedded import EmbeddedMongo, EmbeddedOutbox
from bot.lease import LeaderElection, Lease, holder_id
from bot.persistence import MongoPersistence
from bot.telegram_limits import PRODUCTION, ChatRateLimiter, TelegramLimits
from bot.update_processor import PerChatUpdateProcessor
from bot.webhook import WebhookServer
from content.lessons import LESSON_FOR_LABEL
from handlers import restart, texts, throttle
from handlers.context import AppContext, Services, install_services
from handlers.jobs import restore_jobs
from handlers.routes import register_handlers
from inference.queue import AnalysisQueue
from storage import accounts as account_collections
from storage.chats import BlockedChats
from storage.digitized import DigitizedStore
from storage.history import AnalysisHistory
from storage.inflight import InFlightAnalyses
from storage.limits import Rate, TokenBuckets
from storage.mongo import Database, connect
from storage.practice import CaseStore, PracticeStore, ReminderStore

if TYPE_CHECKING:
    from inference.analysis import Analysis

log = logging.getLogger(__name__)

DATABASE_NAME = "ecg_analyzer"
ANALYSIS_WORKERS = 2  # the reading (sheet, digitizer) is single-threaded: two keep both cores busy; the models are shared


def analyse_image(data: bytes) -> Analysis:
    """`inference.analysis.analyse`: the reading (rectified sheet, signals, measurements), then the
    diagnosis and its heat map from one backbone pass -> `Analysis`. Runs in the analysis pool's thread;
    TensorFlow loads on first use, not at start."""
    from inference.analysis import analyse

    return analyse(data)


async def start_database(settings: Settings) -> tuple[Database, AsyncMongoClient, EmbeddedMongo | None]:
    """(database, client, embedded server or None): MONGODB_URI, or else the embedded nx-27017 under
    DATA_DIR, with the account indexes ensured."""
    mongo = None
    uri = settings.mongodb_uri
    client = None
    try:
        if not uri:
            mongo = EmbeddedMongo(settings.data_dir / "mongo")
            uri = await mongo.start()
            log.info("embedded MongoDB-protocol server (nx-27017) started on %s", uri)
        client = connect(uri)
        db = client.get_default_database(DATABASE_NAME)  # a database named in the URI wins
        await account_collections.ensure_indexes(db)
        return db, client, mongo
    except BaseException:
        if client is not None:
            await client.close()
        if mongo is not None:
            await mongo.stop()
        raise


@contextlib.asynccontextmanager
async def open_database(settings: Settings):
    """The bot's database for a one-off operator command (`ecg-bot grant-instructor`…)."""
    db, client, mongo = await start_database(settings)
    try:
        yield db
    finally:
        await client.close()
        if mongo is not None:
            await mongo.stop()


class BotRuntime:
    """Everything one running bot needs, started and stopped in the right order."""

    def __init__(
        self, settings: Settings, *, clock: Clock | None = None, poll_timeout: float = 10, warm_model: bool = False,
        telegram_limits: TelegramLimits = PRODUCTION, message_rate: Rate = throttle.MESSAGE_RATE,
    ) -> None:
        self.settings = settings
        self.telegram_limits = telegram_limits  # Telegram's sending limits (tests may relax them)
        self.message_rate = message_rate  # each Telegram user's (tests may relax it)
        self.warm_model = warm_model
        self.clock = clock or SystemClock()
        self.poll_timeout = poll_timeout
        self.application: Application | None = None
        self.services: Services | None = None
        self.db: Database | None = None
        self._mongo: EmbeddedMongo | None = None
        self._outbox: EmbeddedOutbox | None = None
        self._client: AsyncMongoClient | None = None
        self._bot_username = ""
        self._mail_sender: asyncio.Task | None = None  # the mail outbox's sender (accounts.outbox)
        self._election: LeaderElection | None = None
        self._webhook: WebhookServer | None = None

    @property
    def outbox(self) -> EmbeddedOutbox | None:
        """The embedded mail outbox, when SMTP_HOST is unset (the sandbox shows it as a mailbox)."""
        return self._outbox

    # --- services -------------------------------------------------------------------------------
    async def _start_database(self) -> Database:
        self.db, self._client, self._mongo = await start_database(self.settings)
        return self.db

    async def _start_mailer(self) -> Mailer:
        """The mailer the outbox's sender uses (one try a message: the outbox retries with back-off)."""
        if self.settings.smtp_host:
            return SmtpMailer.from_settings(self.settings, retries=0)
        self._outbox = EmbeddedOutbox(self.settings.data_dir / "outbox")
        host, port = await self._outbox.start()
        log.info("no SMTP_HOST: mail is saved under %s", self._outbox.outbox_dir)
        return SmtpMailer.from_settings(self.settings, host_override=host, port_override=port, retries=0)

    def _deep_link(self, payload: str) -> str:
        return f"https://t.me/{self._bot_username}?start={payload}"

    async def _build_services(self, db: Database) -> Services:
        """Every service and repository the handlers use, built here and nowhere else."""
        mailer = await self._start_mailer()
        accounts = AccountService(db, mailer, self.clock, resolve_jwt_secret(self.settings), deep_link=self._deep_link)
        history, digitized, cases = AnalysisHistory(db), DigitizedStore(db), CaseStore(db)
        rate_limits, in_flight, blocked = TokenBuckets(db), InFlightAnalyses(db), BlockedChats(db)
        for store in (history, digitized, cases, rate_limits, in_flight):
            await store.ensure_indexes()
        await blocked.load()
        return Services(
            accounts=accounts,
            clock=self.clock,
            analysis_queue=AnalysisQueue(workers=ANALYSIS_WORKERS),
            analyse=analyse_image,
            history=history,
            digitized=digitized,
            practice=PracticeStore(db),
            cases=cases,
            reminders=ReminderStore(db),
            lesson_for_label=dict(LESSON_FOR_LABEL),
            rate_limits=rate_limits,
            message_rate=self.message_rate,
            rate_clock=SystemClock(),
            in_flight=in_flight,
            blocked_chats=blocked,
            remote_analyses=self._remote_analyses(),
        )

    def _remote_analyses(self):
        """The workers' queue (Celery over Redis) when ANALYSIS_BROKER_URL is set, else None: the bot's own
        `AnalysisQueue` analyses."""
        if not self.settings.analysis_broker_url:
            return None
        from workers.client import RemoteAnalyses

        log.info("analyses go to the workers (ANALYSIS_BROKER_URL)")
        return RemoteAnalyses(self.settings.analysis_broker_url)

    # --- lifecycle ------------------------------------------------------------------------------
    async def start(self) -> None:
        if not self.settings.telegram_bot_token:
            raise RuntimeError("TELEGRAM_BOT_TOKEN is not set")
        self.settings.data_dir.mkdir(parents=True, exist_ok=True)
        log_redaction.install([*self.settings.secrets(), resolve_jwt_secret(self.settings)])
        db = await self._start_database()
        self.services = await self._build_services(db)
        if self.settings.webhook_url:  # health endpoints on every process, updates taken by the leader only
            self._webhook = WebhookServer(
                url=self.settings.webhook_url, secret=self.settings.webhook_secret or "",
                listen=self.settings.webhook_listen, port=self.settings.webhook_port,
                application=lambda: self.application, checks=self._readiness_checks())
            await self._webhook.start()
        # active / standby (bot/lease.py): only the lease holder polls, runs the jobs and sends the mail
        self._election = LeaderElection(Lease(db, holder_id(), ttl=self.settings.lease_ttl),
                                        on_elected=self._activate, on_lost=self._deactivate)
        if not await self._election.try_once():
            log.info("another bot process holds the lease: this one is a standby")
        self._election.start()

    async def _activate(self) -> None:
        """This process became the leader: the application is built now, so the persistence is read fresh
        (conversations, user data), the jobs are restored from the database as at a fresh start, and
        polling starts."""
        db = self.db
        self.application = self._build_application(db)
        install_services(self.application, self.services)
        await self.application.initialize()
        self._bot_username = self.application.bot.username
        await self.application.bot.set_my_commands([BotCommand(c, d) for c, d in texts.COMMANDS])
        await restore_jobs(self.application)
        leftovers = await restart.collect(self.application)  # before polling: only the last run's
        self._mail_sender = asyncio.create_task(self.services.accounts.outbox.run(self.services.accounts.mailer))
        await self.application.start()
        if self._webhook is not None:  # Telegram POSTs to WEBHOOK_URL, through the load balancer, to the leader
            await self.application.bot.set_webhook(self.settings.webhook_url, secret_token=self.settings.webhook_secret,
                                                   allowed_updates=Update.ALL_TYPES, drop_pending_updates=False)
        else:
            await self.application.updater.start_polling(
                poll_interval=0, timeout=self.poll_timeout, drop_pending_updates=False
            )
        self.application.create_task(restart.announce(self.application, leftovers))  # paced, in the background
        if self.warm_model and self.services.remote_analyses is None:  # with workers, the models live there
            self.application.create_task(self._warm_model())
        log.info("bot @%s is running (the leader)", self._bot_username)

    def _readiness_checks(self) -> dict:
        """/readyz: the database answers a ping; with workers, Redis does too."""

        async def database() -> bool:
            await self.db.command("ping")
            return True

        checks = {"database": database}
        remote = self.services.remote_analyses if self.services else None
        if remote is not None:
            async def broker() -> bool:
                return await asyncio.to_thread(remote.ping)

            checks["broker"] = broker
        return checks

    async def _deactivate(self) -> None:
        """The lease is lost (or the bot stops): no more polling, jobs or mail from this process."""
        if self._mail_sender is not None:
            self._mail_sender.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._mail_sender
            self._mail_sender = None
        app = self.application
        if app is not None:
            with contextlib.suppress(Exception):
                if app.updater and app.updater.running:
                    await app.updater.stop()
            with contextlib.suppress(Exception):
                if app.running:
                    await app.stop()
            with contextlib.suppress(Exception):
                await app.shutdown()

    async def _warm_model(self) -> None:
        """Load the models in the analysis pool right away, so the first user doesn't wait for them.

        Then everything start-up allocated (TensorFlow's and Keras's objects: millions) is moved out of
        the garbage collector's generations (`gc.freeze`): otherwise a full collection, triggered by the
        reading's many small allocations in the worker thread, walks them all while holding the GIL and
        stalled the event loop for 0.1-0.35 s (measured by benchmarks/bench_bot.py)."""

        def load() -> None:
            import gc

            from inference.classifier import get_classifier
            from inference.diagnosis import get_diagnosis

            get_classifier()
            get_diagnosis()
            gc.freeze()

        try:
            await self.services.analysis_queue.run(load)
            log.info("diagnosis model loaded")
        except Exception:
            log.exception("diagnosis model could not be loaded; analyses will report it")

    def _build_application(self, db: Database) -> Application:
        builder = (
            ApplicationBuilder()
            .token(self.settings.telegram_bot_token)
            .base_url(self.settings.bot_api_base_url)
            .base_file_url(self.settings.bot_api_file_url)
            .persistence(MongoPersistence(db))
            .concurrent_updates(PerChatUpdateProcessor())
            .rate_limiter(ChatRateLimiter(self.telegram_limits))
            .defaults(Defaults(parse_mode=ParseMode.HTML))
            .context_types(ContextTypes(context=AppContext))
            .get_updates_read_timeout(self.poll_timeout + 5)
        )
        application = builder.build()
        register_handlers(application)
        return application

    async def stop(self) -> None:
        if self._election is not None:
            await self._election.halt()
        await self._deactivate()
        if self._election is not None:
            await self._election.stop()  # the lease is given up only once nothing runs here any more
            self._election = None
        if self._webhook is not None:
            await self._webhook.stop()
            self._webhook = None
        if self.services is not None:
            self.services.analysis_queue.shutdown()
            if self.services.remote_analyses is not None:
                self.services.remote_analyses.close()
        if self._client is not None:
            await self._client.close()
        if self._outbox is not None:
            await self._outbox.stop()
        if self._mongo is not None:
            await self._mongo.stop()

    async def run_until_signal(self) -> None:
        """Run until SIGINT/SIGTERM, then shut down cleanly (child server included)."""
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop.set)
        try:
            await self.start()
            await stop.wait()
        finally:
            await self.stop()
