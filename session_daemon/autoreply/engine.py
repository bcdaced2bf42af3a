"""The auto-reply engine: hears the inbound pipeline's new messages (after they are stored) and
queues automatic replies in the outbox.

    pipeline flusher ── on_created ──► cheap gates ──► per-thread worker queue (N threads)
                                                         │ read account, thread, last messages
                                                         ▼ gates → plan (name, flow, model)
                                          shared.outbox.enqueue_send(uid="auto-reply", privileged)

It is wired in `session_daemon.app` as one more `on_created` listener, so the inbound package
never imports the outbox; `wake` (the outbox worker's) is handed in the same way.

Once per inbound message: the reply's outbox request id is derived from the message id
(`clientMessageId = ar-<messageDocId>-<n>`), so a second look at the same message (a restart,
another daemon after a failover) finds the item and sends nothing. Automatic sends are
`privileged`: they never set or change the thread's `ownerUid`.
"""

from __future__ import annotations

import logging
import queue
import threading
import zlib
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

from session_daemon.autoreply.gates import Incoming, gate
from session_daemon.autoreply.model import ModelError, ModelReplier, build_context
from session_daemon.autoreply.replies import Plan, plan_reply
from session_daemon.autoreply.settings import AUTO_UID, AccountSettings, AutoReplyConfig
from session_daemon.inbound.convert import message_doc_id
from session_daemon.inbound.pipeline import CreatedMessage
from shared.ids import send_request_id
from shared.jids import jid_to_e164
from shared.outbox import SendRejected, enqueue_send
from shared.paths import (
    EVENTS,
    account_path,
    client_path,
    messages_collection,
    outbox_path,
    thread_path,
)
from shared.store.port import DocumentStore, query
from shared.timeutil import to_ms, utc_now

log = logging.getLogger(__name__)

_STOP = object()


def reply_client_message_id(wa_id: str, index: int) -> str:
    """The `clientMessageId` of the n-th reply to an inbound message (its outbox key)."""
    return f"ar-{message_doc_id(wa_id)}-{index}"


def incoming_of(item: CreatedMessage) -> Incoming:
    record = item.record
    return Incoming(
        account_id=record.account_id,
        thread_id=item.thread_id,
        client_jid=str(item.thread.get("clientJid") or record.pn_jid or record.addr_jid),
        wa_id=record.wa_id,
        from_me=record.from_me,
        is_group=record.is_group,
        source=record.source,
        replayed=item.replayed,
        ts_ms=record.ts_ms,
        text=record.text or "",
    )


class AutoReplyEngine:
    """See the module docstring. `on_created` is O(1) per message; `handle` does the work."""

    def __init__(
        self,
        store: DocumentStore,
        *,
        config: AutoReplyConfig,
        model: ModelReplier | None = None,
        owns: Callable[[str], bool] = lambda _account: True,
        wake: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
        on_outcome: Callable[[str, str], None] = lambda _account, _outcome: None,
    ) -> None:
        self.store = store
        self.config = config
        self.model = model
        self.owns = owns
        self.wake = wake
        self.clock = clock
        self.on_outcome = on_outcome  # (account, outcome): the per-number metrics (fleet)
        self.counts: Counter[str] = Counter()
        self._lock = threading.Lock()
        self._queues: list[queue.Queue[Any]] = []
        self._threads: list[threading.Thread] = []

    # ---- lifecycle ---------------------------------------------------------------------------

    def start(self) -> None:
        workers = self.config.workers or (1 if type(self.store).__name__ == "SqliteStore" else 4)
        for n in range(workers):
            q: queue.Queue[Any] = queue.Queue(maxsize=self.config.queue_max)
            worker = threading.Thread(target=self._run, args=(q,), name=f"auto-reply-{n}")
            worker.daemon = True
            self._queues.append(q)
            self._threads.append(worker)
            worker.start()

    def stop(self, timeout: float = 10.0) -> None:
        for q in self._queues:
            q.put(_STOP)
        for worker in self._threads:
            worker.join(timeout)
        self._queues.clear()
        self._threads.clear()

    def _count(self, name: str, account_id: str) -> None:
        with self._lock:
            self.counts[name] += 1
        self.on_outcome(account_id, name)

    def stats(self) -> dict[str, Any]:
        with self._lock:
            counts = dict(self.counts)
        return {
            "enabled": self.config.enabled,
            "model": self.model.name if self.model else None,
            "queued": sum(q.qsize() for q in self._queues),
            "counts": counts,
        }

    # ---- the pipeline's listener (its flusher thread) ---------------------------------------

    def on_created(self, created: list[CreatedMessage]) -> None:
        for item in created:
            record = item.record
            # decided without a read: most messages stop here
            if record.from_me or record.is_group or record.source != "live" or item.replayed:
                continue
            if not self._queues:
                continue
            q = self._queues[zlib.crc32(item.thread_id.encode()) % len(self._queues)]
            try:
                q.put_nowait(incoming_of(item))
            except queue.Full:
                self._count("dropped_queue_full", record.account_id)
                log.warning("auto-reply queue full: no reply for %s", item.thread_id)

    def _run(self, q: queue.Queue[Any]) -> None:
        while True:
            msg = q.get()
            if msg is _STOP:
                return
            try:
                self.handle(msg)
            except Exception:
                self._count("error", msg.account_id)
                log.exception("auto-reply failed for thread %s", msg.thread_id)

    # ---- one message --------------------------------------------------------------------------

    def handle(self, msg: Incoming) -> str:
        """Decide and queue the reply to one stored message; returns the outcome (a gate's
        reason, `duplicate`, `none`, `model_failed`, or the plan's kind when something was
        queued), also counted in `stats()`."""
        outcome = self._handle(msg)
        self._count(outcome, msg.account_id)
        return outcome

    def _handle(self, msg: Incoming) -> str:
        account_snap = self.store.get(account_path(msg.account_id))
        account = AccountSettings.of(account_snap.data if account_snap else {})
        if not self.config.enabled or not account.enabled:
            return "disabled"  # the common case for accounts without auto-reply: one read
        first = send_request_id(msg.thread_id, AUTO_UID, reply_client_message_id(msg.wa_id, 0))
        if self.store.get(outbox_path(first)) is not None:
            return "duplicate"
        thread_snap = self.store.get(thread_path(msg.thread_id))
        thread = thread_snap.data if thread_snap else {}
        recent = [
            snap.data
            for snap in self.store.query(
                query(
                    messages_collection(msg.thread_id),
                    order_by=[("tsClient", "desc")],
                    limit=self.config.recent_messages,
                )
            )
        ]
        now = self.clock()
        reason = gate(
            msg,
            config=self.config,
            account=account,
            thread=thread,
            recent=recent,
            owns=self.owns(msg.account_id),
            now=now,
        )
        if reason is not None:
            return reason
        phone = jid_to_e164(msg.client_jid)
        client = self.store.get(client_path(phone)) if phone else None
        plan = plan_reply(
            msg.text,
            config=self.config,
            account=account,
            thread=thread,
            client_known=client is not None,
            has_model=self.model is not None,
            now_ms=to_ms(now),
        )
        texts = plan.texts
        if plan.kind == "model":
            assert self.model is not None
            events = (
                [
                    s.data
                    for s in self.store.query(
                        query(EVENTS, where=[("phoneE164", "==", phone)], limit=5)
                    )
                ]
                if phone
                else []
            )
            context = build_context(
                thread={**thread, **plan.thread_patch},
                client=client.data if client else None,
                events=events,
                recent=recent,
            )
            try:
                texts = (self.model.reply(account.prompt, context),)
            except ModelError as exc:
                log.warning("auto-reply model gave no usable answer for %s: %s", msg.thread_id, exc)
                self._save(msg.thread_id, plan, sent=False)
                return "model_failed"
        if not texts:
            self._save(msg.thread_id, plan, sent=False)
            return "none"
        to_jid = str(thread.get("clientJid") or msg.client_jid)
        try:
            for index, text in enumerate(texts):
                enqueue_send(
                    self.store,
                    thread_id=msg.thread_id,
                    account_id=msg.account_id,
                    to_jid=to_jid,
                    text=text,
                    uid=AUTO_UID,
                    client_message_id=reply_client_message_id(msg.wa_id, index),
                    privileged=True,  # server path: never sets or changes ownerUid
                )
        except SendRejected as exc:
            log.warning("auto-reply refused for %s: %s", msg.thread_id, exc.code)
            return f"refused_{exc.code}"
        self._save(msg.thread_id, plan, sent=True)
        self.wake()
        log.info("auto-reply (%s) queued in %s", plan.kind, msg.thread_id)
        return plan.kind

    def _save(self, thread_id: str, plan: Plan, *, sent: bool) -> None:
        state = dict(plan.state)
        if plan.kind == "model" and not sent:  # a failed model turn is not counted
            state["turnsMs"] = list(state.get("turnsMs") or [])[:-1]
        self.store.update(thread_path(thread_id), {**plan.thread_patch, "autoReplyState": state})
