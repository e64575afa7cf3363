"""A second diagnostic beside the ingest benchmark, never deployed: the real receiver (`consumer.wsgi:app`,
every check on) recording through its group commit into a database that costs nothing — each group's
write takes no CPU and no time, it only lets go of the GIL the way waiting for any I/O does, then says
"recorded". It is an upper bound for the receiver with any durable store: a real database only adds
CPU (the driver's and the server's) and waiting (the commit's fsync) to it."""

from __future__ import annotations

import time
from collections.abc import Sequence

from consumer.webhooks.group_commit import GroupCommit
from consumer.wsgi import app
from workers.store.intake import Callback


def _write(callbacks: Sequence[Callback]) -> list[bool]:
    time.sleep(0)  # a real commit waits on a socket: the GIL goes to another thread meanwhile
    return [True] * len(callbacks)


app.extensions["bcsync"].group_commit = GroupCommit(_write)
