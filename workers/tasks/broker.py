"""The worker's side of the broker, hardened against two ways it used to die.

1. **Redis restarted under a running worker** (celery 5.7.0, kombu 5.7.0). On a lost connection
   `Consumer.on_connection_error_after_connected` first calls `connection.collect()`, which closes
   what it can and then releases the transport (`transport.client = None`), but keeps the
   connection's default channel; celery 5.7.0 then also calls `connection.close()`, which closes
   that channel a second time. If the first close was cut short (a BRPOP was outstanding on the
   dead socket, so `_brpop_read` raised before the channel was marked closed) and the worker holds
   unacknowledged messages (a task running with late acks, a countdown wake-up), the second close
   tries to restore them through the released transport: `Channel._connparams` reads
   `self.connection.client.hostname` -> `AttributeError: 'NoneType' object has no attribute
   'hostname'`. That is not a connection error, so the consumer gives up: "Unrecoverable error",
   the worker exits. (celery 5.6.x only called `collect()`; 5.7.0 is the newest release of both.)
   `Consumer` below makes `collect()` forget the default channel together with the transport it
   released, so the close that follows has nothing left to fail on; reconnecting then proceeds as
   usual. The unacknowledged messages stay in Redis's unacked set and come back after the
   visibility timeout; nothing is lost either way (the database holds the work, beat's sweep
   flushes it).

2. **An empty or truncated message file** with the embedded file broker (`filesystem://`).
   kombu's writer creates the message file and then writes it, and its reader takes any file
   with the queue's name (it does not honour the writer's lock), so a reader can catch a file
   between the two; a file left empty or cut short by a crash or a full disk is just as bad. The
   reader then raised `JSONDecodeError` inside the consumer loop and the worker exited.
   `FilesystemTransport` writes each message under a name readers skip and renames it into place
   once complete (atomic on one file system), and its reader moves a file it cannot decode to a
   `bad/` folder beside `processed/` with a warning, then goes on to the next message. (The same
   create-then-write race made an exchange file in `control/` briefly empty: an empty one binds
   nothing yet, and binding creates it under its lock.)
"""

from __future__ import annotations

import contextlib
import functools
import logging
import os
import time
import uuid
from pathlib import Path
from queue import Empty
from typing import Any

from celery.worker.consumer import Consumer as CeleryConsumer
from kombu.exceptions import ChannelError
from kombu.transport import filesystem
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

log = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".part"  # a message file being written: readers only take names ending in .msg
STALE_PARTIAL_SECONDS = 600.0  # a .part file this old lost its writer (killed mid-write)


# --- 1. reconnecting after the broker went away ---------------------------------------------------


class Consumer(CeleryConsumer):
    """celery's consumer, whose clean-up after a lost broker connection cannot crash the worker."""

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        conn = self.connection
        if conn is not None:
            conn.collect = functools.partial(_collect_and_forget_channel, conn, conn.collect)
        super().on_connection_error_after_connected(exc)


def _collect_and_forget_channel(connection: Any, collect: Any, *args: Any, **kwargs: Any) -> Any:
    """`Connection.collect()`, then drop the default channel: its transport was just released, so
    closing it again (celery 5.7.0's `connection.close()` right after) could only fail, and with
    unacked messages it failed with AttributeError, which kills the worker."""
    try:
        return collect(*args, **kwargs)
    finally:
        connection._default_channel = None


# --- 2. the embedded file broker ----------------------------------------------------------------


class FilesystemChannel(filesystem.Channel):
    """kombu's filesystem channel with atomic writes and a reader that skips what it cannot read."""

    # kombu itself disagrees on the name: filesystem.Channel says `payload`, AbstractChannel `message`;
    # kombu passes it positionally. Named as the direct base does.
    def _put(self, queue: str, payload: Any, **kwargs: Any) -> None:  # type: ignore[override]
        name = f"{round(time.monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = final + PARTIAL_SUFFIX
        try:
            with open(partial, "wb") as f:
                f.write(str_to_bytes(dumps(payload)))
                f.flush()
                os.fsync(f.fileno())
            os.replace(partial, final)  # visible to readers only once complete
        except OSError as exc:
            with contextlib.suppress(OSError):
                os.remove(partial)
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue: str, timeout: float | None = None) -> Any:
        """The next readable message of `queue`, or Empty; never waits (kombu polls), so `timeout`,
        part of the virtual channel's signature, is not used."""
        wanted = f"{queue}.msg"
        names = sorted(os.listdir(self.data_folder_in))
        for name in names:
            if name.endswith(PARTIAL_SUFFIX):
                self._sweep_stale_partial(name)
                continue
            if name.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(self._claim_folder, name)
            try:
                # the rename is the claim: of several readers exactly one moves the file
                os.replace(os.path.join(self.data_folder_in, name), claimed)
            except OSError:
                continue  # taken by another reader meanwhile
            try:
                with open(claimed, "rb") as f:
                    raw = f.read()
            except OSError as exc:  # a ChannelError here would end the worker (kombu raises one)
                log.warning("could not read the broker message %s (%s); skipped", claimed, exc)
                continue
            try:
                message = loads(bytes_to_str(raw))
                if not isinstance(message, dict):
                    raise ValueError(f"a message is a JSON object, not {type(message).__name__}")
            except ValueError as exc:  # JSONDecodeError and UnicodeDecodeError are ValueErrors
                self._quarantine(claimed, name, len(raw), exc)
                continue
            if not self.store_processed:
                with contextlib.suppress(OSError):
                    os.remove(claimed)
            return message
        raise Empty()

    def get_table(self, exchange: str) -> list:
        file = self._exchange_file(exchange)
        try:
            with file.open("rb") as f:
                filesystem.lock(f, filesystem.LOCK_SH)
                try:
                    raw = f.read()
                finally:
                    filesystem.unlock(f)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        return _table(raw)

    def _queue_bind(self, exchange: str, routing_key: str, pattern: str, queue: str) -> None:
        # kombu creates the exchange file ("wb", truncating) before it takes the lock, so another
        # binder or reader can find it empty; here it is created without truncating, under the lock
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(exist_ok=True)
        bound = filesystem.exchange_queue_t(routing_key or "", pattern or "", queue or "")
        try:
            with os.fdopen(os.open(file, os.O_RDWR | os.O_CREAT, 0o644), "rb+", buffering=0) as f:
                filesystem.lock(f, filesystem.LOCK_EX)
                try:
                    queues = _table(f.read())
                    if bound not in queues:
                        queues.insert(0, bound)
                        f.seek(0)
                        f.truncate()
                        f.write(str_to_bytes(dumps(queues)))
                finally:
                    filesystem.unlock(f)
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc

    @property
    def _claim_folder(self) -> str:
        # kombu moves a claimed file to the system's temp folder unless store_processed: another
        # file system there (a copy, not a rename). processed/ is beside the queue.
        return str(self.processed_folder)

    @property
    def quarantine_folder(self) -> Path:
        folder = self.transport_options.get("quarantine_folder")
        return Path(folder) if folder else Path(self.processed_folder).parent / "bad"

    def _quarantine(self, claimed: str, name: str, size: int, exc: Exception) -> None:
        target = self.quarantine_folder / name
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(claimed, target)
            kept = f"kept as {target}"
        except OSError as move_error:
            with contextlib.suppress(OSError):
                os.remove(claimed)
            kept = f"removed (could not keep it: {move_error})"
        log.warning(
            "skipped an unreadable broker message %s (%d bytes: %s); %s. Nothing is lost: the "
            "database holds the work and the sweep flushes it",
            name,
            size,
            exc,
            kept,
        )

    def _sweep_stale_partial(self, name: str) -> None:
        path = os.path.join(self.data_folder_in, name)
        try:
            if time.time() - os.stat(path).st_mtime < STALE_PARTIAL_SECONDS:
                return
            target = self.quarantine_folder / name
            target.parent.mkdir(parents=True, exist_ok=True)
            os.replace(path, target)
        except OSError:
            return
        log.warning("moved a broker message file its writer never finished to %s", target)


def _table(raw: bytes) -> list:
    """An exchange file's bindings; an empty file (created, not yet written) binds nothing yet."""
    if not raw.strip():
        return []
    return [filesystem.exchange_queue_t(*q) for q in loads(bytes_to_str(raw))]


class FilesystemTransport(filesystem.Transport):
    """`filesystem://` with `FilesystemChannel` (set as `broker_transport` by workers.tasks.app)."""

    Channel = FilesystemChannel


__all__ = ["Consumer", "FilesystemChannel", "FilesystemTransport", "PARTIAL_SUFFIX"]
