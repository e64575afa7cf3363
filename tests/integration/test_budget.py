"""The shared request budgets: one pause for every process after a 429, a reserve, the headers."""

from __future__ import annotations

import multiprocessing as mp
import time

from workers.clients.budget import SharedBudget, ometria_budget


def _acquire_in_another_process(db_url: str, out: mp.Queue) -> None:
    budget = SharedBudget(db_url, "st", "bigcommerce", quota=150, window=30.0, reserve=10)
    started = time.time()
    budget.acquire()
    out.put((started, time.time()))


def test_a_429_seen_by_one_process_pauses_the_other(db_url: str) -> None:
    first = SharedBudget(db_url, "st", "bigcommerce", quota=150, window=30.0, reserve=10)
    first.acquire()
    first.observe(
        429,
        {
            "X-Rate-Limit-Time-Reset-Ms": "2000",
            "X-Rate-Limit-Requests-Left": "0",
            "X-Rate-Limit-Requests-Quota": "150",
            "X-Rate-Limit-Time-Window-Ms": "30000",
        },
    )
    paused_at = time.time()
    ctx = mp.get_context("spawn")
    out: mp.Queue = ctx.Queue()
    proc = ctx.Process(target=_acquire_in_another_process, args=(db_url, out))
    proc.start()
    started, acquired = out.get(timeout=30)
    proc.join(10)
    assert acquired >= paused_at + 1.9, f"the other process went after {acquired - paused_at:.2f}s"


def test_the_reserve_is_left_for_other_apps_and_the_window_reset_frees_it(db_url: str) -> None:
    now = [1000.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = SharedBudget(
        db_url, "st", "bigcommerce", quota=150, window=30.0, reserve=10, sleep=sleep, clock=lambda: now[0]
    )
    budget.acquire()
    budget.observe(
        200,
        {
            "X-Rate-Limit-Requests-Left": "11",
            "X-Rate-Limit-Requests-Quota": "150",
            "X-Rate-Limit-Time-Reset-Ms": "4000",
            "X-Rate-Limit-Time-Window-Ms": "30000",
        },
    )
    budget.acquire()  # 11 left, 10 reserved: one may still go
    assert now[0] <= 1004.0
    budget.acquire()  # none left above the reserve: only after the window resets
    assert now[0] >= 1004.0
    assert now[0] < 1004.0 + 30.0


def test_a_429_without_headers_means_platform_load_and_backs_off(db_url: str) -> None:
    now = [0.0]
    slept: list[float] = []

    def sleep(seconds: float) -> None:
        slept.append(seconds)
        now[0] += seconds

    budget = SharedBudget(
        db_url, "st", "bigcommerce", quota=150, window=30.0, sleep=sleep, clock=lambda: now[0]
    )
    budget.acquire()
    budget.observe(429, {})
    budget.acquire()
    assert sum(slept) >= 5.0


def test_ometria_rate_is_a_per_second_budget(db_url: str) -> None:
    now = [50.0]

    def sleep(seconds: float) -> None:
        now[0] += seconds

    budget = ometria_budget(db_url, "st", 4, sleep=sleep, clock=lambda: now[0])
    for _ in range(12):
        budget.acquire()
    assert now[0] - 50.0 >= 2.0  # 12 requests at 4/s need at least two window resets


def test_no_more_requests_in_flight_than_the_cap_across_workers(db_url: str) -> None:
    import threading

    budgets = [
        SharedBudget(db_url, "st", "bigcommerce", quota=1000, window=30.0, concurrency=2) for _ in range(2)
    ]
    lock = threading.Lock()
    in_flight, peak = [0], [0]

    def request(budget: SharedBudget) -> None:
        budget.acquire()
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        time.sleep(0.2)
        with lock:
            in_flight[0] -= 1
        budget.observe(200, {})

    threads = [threading.Thread(target=request, args=(budgets[i % 2],)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak[0] == 2
