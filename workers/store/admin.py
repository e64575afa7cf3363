"""The admin page's server-side sessions and the throttle on wrong admin tokens, in the database so
that every web process (one gunicorn per WEB_CONCURRENCY) agrees.

- A session is a random id: the signed cookie carries it, the table keeps only its SHA-256 (a copy
  of the table opens nothing). A session is valid while its row exists, before its absolute expiry
  and within the idle limit since it was last used; logout deletes the row, so the old cookie is
  refused at once.
- The throttle counts wrong tokens per client address in a fixed window that starts at the first
  failure: past `limit` failures in the window the address is refused until the window ends.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import delete, select, update

from workers.store.engine import insert_for, rowcount, session_scope
from workers.store.models import AdminSession, AuthFailure

LAST_SEEN_STEP = 30.0  # seconds: a session's last use is written at most this often


def _hash(sid: str) -> str:
    return hashlib.sha256(sid.encode()).hexdigest()


def create_session(db: str, now: float, lifetime: float) -> str:
    """A new session valid for `lifetime` seconds at most; returns its id (for the cookie only)."""
    sid = secrets.token_urlsafe(32)
    with session_scope(db) as s:
        s.execute(delete(AdminSession).where(AdminSession.expires_at < now))
        s.add(AdminSession(sid_hash=_hash(sid), created_at=now, last_seen_at=now, expires_at=now + lifetime))
    return sid


def use_session(db: str, sid: str, now: float, idle: float) -> bool:
    """True if the session is open (not ended, not expired, used within `idle` seconds), noting
    this use; an expired or idle session is deleted."""
    if not isinstance(sid, str) or not sid or len(sid) > 200:
        return False
    key = _hash(sid)
    with session_scope(db) as s:
        row = s.get(AdminSession, key)
        if row is None:
            return False
        if now >= row.expires_at or now - row.last_seen_at > idle:
            s.delete(row)
            return False
        if now - row.last_seen_at >= LAST_SEEN_STEP:
            row.last_seen_at = now
        return True


def end_session(db: str, sid: str) -> bool:
    """Delete the session; True if it was open."""
    if not isinstance(sid, str) or not sid:
        return False
    with session_scope(db) as s:
        return bool(rowcount(s.execute(delete(AdminSession).where(AdminSession.sid_hash == _hash(sid)))))


def end_all_sessions(db: str) -> int:
    with session_scope(db) as s:
        return rowcount(s.execute(delete(AdminSession)))


def throttled_for(db: str, client: str, now: float, limit: int, window: float) -> float:
    """Seconds until `client` may try a token again: 0 unless it has had `limit` failures in the
    current window."""
    with session_scope(db) as s:
        row = s.execute(
            select(AuthFailure.window_start, AuthFailure.failures).where(AuthFailure.client == client[:64])
        ).first()
    if row is None:
        return 0.0
    start, failures = float(row[0]), int(row[1])
    if now - start >= window or failures < limit:
        return 0.0
    return max(0.0, start + window - now)


def record_auth_failure(db: str, client: str, now: float, window: float) -> int:
    """Count one wrong token from `client` (atomically, whatever other processes do at the same time);
    returns its failures in the current window. Old windows of every client are pruned on the way."""
    key = client[:64]
    with session_scope(db) as s:
        ins = insert_for(s)(AuthFailure).values(client=key, window_start=now, failures=1)
        new = ins.on_conflict_do_nothing(index_elements=[AuthFailure.client]).returning(AuthFailure.client)
        if s.execute(new).first() is not None:
            count = 1
        else:  # row-locking updates: concurrent failures from other processes are all counted
            stale = AuthFailure.window_start <= now - window
            restart = update(AuthFailure).where(AuthFailure.client == key, stale)
            s.execute(restart.values(window_start=now, failures=0))
            s.execute(
                update(AuthFailure).where(AuthFailure.client == key).values(failures=AuthFailure.failures + 1)
            )
            count = int(s.execute(select(AuthFailure.failures).where(AuthFailure.client == key)).scalar_one())
        s.execute(delete(AuthFailure).where(AuthFailure.window_start < now - max(window, 3600.0)))
        return count
