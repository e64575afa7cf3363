"""The one table `make bench` prints: every figure beside what it is compared with, the target from the
issue, and a verdict; then a closing note listing what missed its target."""

from __future__ import annotations

import math
from typing import Any

Row = tuple[str, str, str, str, str, str]  # benchmark, figure, measured, beside, target, verdict
HEADER: Row = ("benchmark", "figure", "measured", "beside", "target", "")
MAX_WIDTHS = (9, 48, 26, 40, 24, 10)


def _n(value: Any, digits: int = 0) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, int | float):
        return f"{value:,.{digits}f}"
    return str(value)


def _verdict(ok: bool | None) -> str:
    return "" if ok is None else ("ok" if ok else "MISS")


def ingest_rows(r: dict[str, Any]) -> list[Row]:
    app, bare = r["app"], r["bare"]
    ratio = r["throughput_ratio"]
    name = "ingest"
    rows = [
        (
            name,
            f"setup: gunicorn {r['gunicorn']}, {r['concurrency']} keep-alive connections, {r['backend']}",
            "real receiver",
            "bare Flask",
            "",
            "",
        ),
        (
            name,
            "webhooks/s",
            _n(app["per_second"]),
            _n(bare["per_second"]),
            f">= 60 % of bare ({_n(0.6 * bare['per_second'])})",
            f"{_verdict(ratio >= 0.6)} ({ratio:.0%})",
        ),
        (name, "ack latency p50 (ms)", _n(app["p50_ms"], 1), _n(bare["p50_ms"], 1), "", ""),
        (
            name,
            "ack latency p99 (ms)",
            _n(app["p99_ms"], 1),
            _n(bare["p99_ms"], 1),
            "<= 25 ms",
            _verdict(app["p99_ms"] <= 25),
        ),
        (
            name,
            "non-2xx answers (valid callbacks)",
            _n(app["non_2xx"]),
            _n(bare["non_2xx"]),
            "0",
            _verdict(app["non_2xx"] == 0),
        ),
        (name, "CPU per request (us): gunicorn + PostgreSQL", _cpu(app), _cpu(bare), "", ""),
    ]
    diagnostics = (  # where the gap to bare Flask goes
        ("without_db_write", "diagnostic: receiver with every check but no database write (bench.nodb)"),
        (
            "free_database",
            "diagnostic: receiver with every check, group commit into a database that "
            "costs no CPU and no time (bench.freedb): the bound for any durable store",
        ),
        (
            "bare_with_insert",
            "diagnostic: bare Flask, no check, one autocommit INSERT per request "
            "(bench.baredb): what a durable answer alone costs",
        ),
    )
    for key, figure in diagnostics:
        if d := r.get(key):
            rows.append(
                (
                    name,
                    figure,
                    f"{_n(d['per_second'])}/s, p99 {_n(d['p99_ms'], 1)} ms",
                    f"{d['per_second'] / bare['per_second']:.0%} of bare; CPU {_cpu(d)}",
                    "",
                    "",
                )
            )
    return rows


def _cpu(r: dict[str, Any]) -> str:
    return f"{_n(r.get('cpu_us_web'))} + {_n(r.get('cpu_us_db'))}"


def storm_rows(r: dict[str, Any]) -> list[Row]:
    name = "storm"
    minimum, allowance = r["minimum_calls"], r["lookup_allowance"]
    target_calls = 1.25 * minimum + allowance
    om_min = r["ometria_request_minimum"]
    quiet = r["quiescence_seconds"]
    window = r["window_seconds"]
    compressed = window < 30
    compression = r["compression"]
    setup = (
        f"setup: {r['callbacks']:,} callbacks / {r['distinct_products']:,} products, store of "
        f"{r['config']['store_products']:,}, Standard quota 150 per {window:g} s"
        f"{f' (time x{compression:g})' if compressed else ' (real time)'}, "
        f"SYNC_DEBOUNCE_SECONDS={r['config']['debounce_seconds']:g}, OMETRIA_PUSH_RATE=4, "
        f"{r['backend']}"
    )
    equivalent = ""
    if compressed and quiet is not None:
        equivalent = f"; uncompressed >= {_n(max(quiet, r['quota_bound_seconds_standard']), 1)} s"
    return [
        (name, setup, "", "", "", ""),
        (
            name,
            "BigCommerce product calls",
            _n(r["bc_product_calls"]),
            f"minimum ceil({r['distinct_products']}/250) = {minimum} "
            f"({r['bc_product_calls'] / minimum:.2f} x); per-webhook {r['per_webhook_calls']:,}",
            "",
            "",
        ),
        (
            name,
            "BigCommerce lookups (categories, brands, site, currency)",
            _n(r["bc_lookup_calls"]),
            f"each once = {allowance}",
            "",
            "",
        ),
        (
            name,
            "BigCommerce catalogue calls in all",
            _n(r["bc_calls"]),
            f"per-webhook {r['per_webhook_calls']:,}",
            f"<= 1.25 x {minimum} + {allowance} = {_n(target_calls, 2)}",
            _verdict(r["bc_calls"] <= target_calls),
        ),
        (
            name,
            "429s from the sandbox BigCommerce",
            _n(r["bc_429"]),
            f"refused: {r['sandbox_refused']}",
            "0",
            _verdict(r["bc_429"] == 0),
        ),
        (
            name,
            "Ometria requests",
            _n(r["ometria_requests"]),
            f"ceil({r['changed_records']}/100) = {om_min}",
            f"<= 1.1 x {om_min} = {_n(1.1 * om_min, 1)}",
            _verdict(r["ometria_requests"] <= 1.1 * om_min),
        ),
        (
            name,
            "records pushed / records that changed",
            f"{r['records_pushed']:,} / {r['changed_records']:,}",
            f"Ometria 429s: {r['ometria_429']}",
            "",
            "",
        ),
        (
            name,
            "callbacks acknowledged after (s)",
            _n(r["delivered_seconds"], 1),
            f"receiver non-2xx: {r['receiver_non_2xx']}",
            "",
            "",
        ),
        (
            name,
            "seconds to quiescence",
            _n(quiet, 1) + equivalent,
            f"per-webhook on Standard: {r['per_webhook_seconds_standard']:,} s",
            "<= 60 s",
            _verdict(quiet is not None and max(quiet, r["quota_bound_seconds_standard"]) <= 60),
        ),
        (
            name,
            "end state: Ometria vs store (drift)",
            "equal" if r["drift_count"] == 0 else f"{r['drift_count']} differences",
            "",
            "equal",
            _verdict(r["drift_count"] == 0),
        ),
    ]


def resync_rows(r: dict[str, Any]) -> list[Row]:
    name = "resync"
    c, u = r["runs"]["changed"], r["runs"]["unchanged"]
    m = r["mapping"]
    both = "changed / unchanged"

    def pair(key: str, digits: int = 0) -> str:
        return f"{_n(c[key], digits)} / {_n(u[key], digits)}"

    return [
        (
            name,
            f"setup: {r['products']:,} products, sandbox plan {r['plan']}, OMETRIA_PUSH_RATE and sandbox "
            f"push rate raised to {r['push_rate']:,}/s, `bcsync resync all` on {r['backend']}",
            both,
            "",
            "",
            "",
        ),
        (
            name,
            "BigCommerce calls",
            pair("bc_calls"),
            f"Standard plan: {_n(c['standard_plan_seconds'])} / {_n(u['standard_plan_seconds'])} s of quota",
            "",
            "",
        ),
        (name, "wall seconds", pair("seconds", 1), f"products/s {pair('products_per_second')}", "", ""),
        (
            name,
            "Ometria requests / records pushed",
            f"{_n(c['ometria_requests'])} / {_n(u['ometria_requests'])} req, "
            f"{_n(c['records_pushed'])} / {_n(u['records_pushed'])} rec",
            f"at 4 req/s: {_n(c['ometria_seconds_at_4_per_s'])} / {_n(u['ometria_seconds_at_4_per_s'])} s",
            "",
            "",
        ),
        (
            name,
            "unchanged catalogue pushes",
            _n(u["records_pushed"]) + " records",
            "",
            "0",
            _verdict(u["records_pushed"] == 0),
        ),
        (
            name,
            "peak RSS of the resync process (MB)",
            pair("peak_rss_mb", 1),
            f"CPU s {pair('cpu_seconds', 1)}",
            "<= 300 MB",
            _verdict(max(c["peak_rss_mb"], u["peak_rss_mb"]) <= 300),
        ),
        (
            name,
            "mapping (map_product + fingerprint), products/s per core",
            _n(m["products_per_cpu_second"]),
            f"{m['records']:,} records in {m['cpu_seconds']} CPU s",
            ">= 5,000",
            _verdict(m["products_per_cpu_second"] >= 5000),
        ),
    ]


def latency_rows(r: dict[str, Any]) -> list[Row]:
    name = "latency"
    d = r["debounce_seconds"]
    return [
        (
            name,
            f"setup: {r['changes']} isolated price changes, SYNC_DEBOUNCE_SECONDS={d:g}, {r['backend']}",
            "",
            "",
            "",
            "",
        ),
        (
            name,
            "callback -> Ometria p50 (s)",
            _n(r["p50_seconds"], 2),
            f"debounce {d:g} s",
            f"<= {d:g} + 1 s",
            _verdict(r["p50_seconds"] <= d + 1),
        ),
        (
            name,
            "callback -> Ometria p95 (s)",
            _n(r["p95_seconds"], 2),
            f"min {_n(r['min_seconds'], 2)}, max {_n(r['max_seconds'], 2)}",
            "",
            "",
        ),
        (name, "changes not seen within 30 s", _n(r["missed"]), "", "0", _verdict(r["missed"] == 0)),
    ]


def catalogue_rows(r: dict[str, Any]) -> list[Row]:
    name = "catalogue"
    page = r["page_ms"]
    return [
        (
            name,
            f"setup: sandbox store of {r['products']:,} products (seed 1), pages over HTTP on loopback",
            "",
            "",
            "",
            "",
        ),
        (
            name,
            "seconds to generate the whole catalogue",
            _n(r["generated_seconds"], 1),
            f"usable after {_n(r['usable_seconds'], 1)} s; {_n(r['generated_cpu_seconds'], 1)} CPU s",
            "< 30 s",
            _verdict(r["generated_seconds"] < 30),
        ),
        (
            name,
            "250-product page, include=variants,images,custom_fields (ms)",
            _n(page["median"], 0),
            f"best {_n(page['best'])}, worst {_n(page['worst'])}; "
            f"at 1,000 products {_n(r['page_ms_at_1000'])}",
            "< 100 ms",
            _verdict(page["median"] < 100),
        ),
    ]


def scaleout_rows(r: dict[str, Any]) -> list[Row]:
    name = "scaleout"
    if r.get("skipped"):
        return [(name, f"not run: {r['skipped']}", "", "", "", "")]
    cfg, storm, ingest = r["config"], r["storm"], r["ingest"]
    w1, wn = cfg["worker_hosts"][0], cfg["worker_hosts"][-1]
    h1, hn = cfg["web_hosts"][0], cfg["web_hosts"][-1]
    one, many = storm[f"workers_{w1}"], storm[f"workers_{wn}"]
    web1, webn = ingest[f"webs_{h1}"], ingest[f"webs_{hn}"]
    s = cfg["storm"]
    window = s["window_seconds"]

    def times(ratio: float | None) -> str:
        return "—" if ratio is None else f"{ratio:.2f} x"

    def end_state(x: dict[str, Any]) -> str:
        return "equal" if x["drift_count"] == 0 else f"{x['drift_count']} differences"

    batches = many.get("batches_per_worker", {})
    return [
        (
            name,
            f"setup: every process on its own simulated host (network namespace + veth), PostgreSQL + "
            f"Redis on a db host, the sandbox on another, fresh clone {r['commit']}, {r['cores']} cores "
            f"for all of them; storm {s['callbacks']:,} callbacks / {s['products']:,} products, Standard "
            f"quota per {window:g} s, 1 web host, worker hosts of celery --concurrency "
            f"{cfg['worker_concurrency']}; ingest {cfg['ingest_connections']} connections in all, web "
            f"hosts of gunicorn WEB_CONCURRENCY={cfg['web_concurrency']} x 4 threads",
            f"{wn} / {hn} hosts",
            f"{w1} / {h1} host(s)",
            "",
            "",
        ),
        (
            name,
            f"storm: seconds to quiescence, {wn} vs {w1} worker host(s)",
            _n(many["quiescence_seconds"], 1),
            f"{_n(one['quiescence_seconds'], 1)}; speed-up {times(r['storm_speedup'])}",
            "",
            "",
        ),
        (
            name,
            "storm: callbacks all acknowledged after (s) (the sandbox delivering to 1 web host)",
            _n(many["delivered_seconds"], 1),
            _n(one["delivered_seconds"], 1),
            "",
            "",
        ),
        (
            name,
            "storm: from the last acknowledgement to quiescence (s): debounce, fetches, and Ometria "
            "pushes at the shared OMETRIA_PUSH_RATE",
            _n(_after_ack(many), 1),
            _n(_after_ack(one), 1),
            "",
            "",
        ),
        (
            name,
            f"storm: batches flushed per worker host ({wn} hosts; a storm is flushed once quiet, or "
            "after SYNC_MAX_WAIT_SECONDS, in batches of up to 1,000 products)",
            " / ".join(str(v) for v in batches.values()) or "—",
            f"{sum(one.get('batches_per_worker', {}).values())} on 1 host",
            "",
            "",
        ),
        (
            name,
            "storm: BigCommerce calls / Ometria requests",
            f"{_n(many['bc_calls'])} / {_n(many['ometria_requests'])}",
            f"{_n(one['bc_calls'])} / {_n(one['ometria_requests'])}",
            "",
            "",
        ),
        (
            name,
            "storm: end state, Ometria vs store",
            end_state(many),
            end_state(one),
            "equal",
            _verdict(many["drift_count"] == 0 and one["drift_count"] == 0),
        ),
        (
            name,
            f"ingest: webhooks/s, {hn} vs {h1} web host(s)",
            _n(webn["per_second"]),
            f"{_n(web1['per_second'])}; speed-up {times(r['ingest_speedup'])}",
            "",
            "",
        ),
        (
            name,
            "ingest: ack latency p50 / p99 (ms)",
            f"{_n(webn['p50_ms'], 1)} / {_n(webn['p99_ms'], 1)}",
            f"{_n(web1['p50_ms'], 1)} / {_n(web1['p99_ms'], 1)}",
            "",
            "",
        ),
        (
            name,
            "machine load average (1 min) as each case began: the hosts share the cores with whatever "
            "else runs",
            f"storm {_n(many.get('load_average'), 1)}, ingest "
            + ", ".join(_n(x.get("load_average"), 1) for x in webn.get("rounds", [])),
            f"storm {_n(one.get('load_average'), 1)}, ingest "
            + ", ".join(_n(x.get("load_average"), 1) for x in web1.get("rounds", [])),
            "",
            "",
        ),
        (
            name,
            "ingest: non-2xx answers (valid callbacks)",
            _n(webn["non_2xx"]),
            _n(web1["non_2xx"]),
            "0",
            _verdict(webn["non_2xx"] == 0 and web1["non_2xx"] == 0),
        ),
    ]


def _after_ack(storm: dict[str, Any]) -> float | None:
    quiet, acked = storm.get("quiescence_seconds"), storm.get("delivered_seconds")
    return None if quiet is None or acked is None else max(0.0, quiet - acked)


def storefronts_rows(r: dict[str, Any]) -> list[Row]:
    name = "storefronts"
    rows: list[Row] = [
        (
            name,
            "mapping, two channels (GBP; EUR price list + conversion), products/s per core",
            _n(r["mapping_per_s"]),
            f"{r['products']:,} products, {r['records']:,} records, {r['price_records']:,} price records",
            ">= 5,000",
            _verdict(r["mapping_per_s"] >= 5000),
        )
    ]
    storm = r.get("storm")
    if storm:
        rows += [
            (
                name,
                "two-channel storm: BigCommerce calls",
                _n(storm["bc_calls"]),
                f"bound 1.25 x {storm['bc_minimum']} + {storm['lookups']} lookups",
                f"<= {storm['bc_bound']:.0f}",
                _verdict(storm["bc_calls"] <= storm["bc_bound"]),
            ),
            (
                name,
                "two-channel storm: Ometria requests",
                _n(storm["ometria_requests"]),
                f"minimum {storm['ometria_minimum']} ({storm['records']:,} records)",
                f"<= {1.1 * storm['ometria_minimum']:.1f}",
                _verdict(storm["ometria_requests"] <= 1.1 * storm["ometria_minimum"]),
            ),
        ]
    two = r.get("two_stores")
    if two:
        rows.append(
            (
                name,
                "two stores: healthy store's quiescence beside one with a revoked Ometria key",
                f"x{two['ratio']:.2f}",
                f"{two['beside_revoked_seconds']:.1f} s vs {two['alone_seconds']:.1f} s alone "
                f"({two['products']:,} products); the other account changed {two['b_records_changed']}",
                "<= x1.20",
                _verdict(two["ratio"] <= 1.2 and two["b_records_changed"] == 0),
            )
        )
    rolling = (storm or {}).get("rolling")
    if rolling:
        rows.append(
            (
                name,
                f"rolling resync ({rolling['hours']:g} h lap): share of the Standard quota over an hour",
                f"{100 * rolling['share_of_standard']:.2f} %",
                f"{rolling['calls']} calls, {rolling['products']:,} products; "
                f"100,000 products: {100 * rolling['share_100k']:.2f} %",
                "<= 20 %",
                _verdict(rolling["share_of_standard"] <= 0.2 and rolling["share_100k"] <= 0.2),
            )
        )
    return rows


BUILDERS = {
    "catalogue": catalogue_rows,
    "ingest": ingest_rows,
    "storm": storm_rows,
    "resync": resync_rows,
    "latency": latency_rows,
    "scaleout": scaleout_rows,
    "storefronts": storefronts_rows,
}


def rows_for(results: dict[str, Any]) -> list[Row]:
    rows: list[Row] = []
    for name, build in BUILDERS.items():
        if name not in results:
            continue
        r = results[name]
        if "error" in r:
            rows.append((name, "FAILED", r["error"].splitlines()[-1][:120], "", "", "MISS"))
        else:
            rows += build(r)
        if r.get("postgres_restarted"):
            rows.append(
                (
                    name,
                    "caution: PostgreSQL was restarted by something else on the machine during "
                    "this benchmark",
                    "",
                    "",
                    "",
                    "",
                )
            )
    return rows


def render(results: dict[str, Any], machine: dict[str, Any]) -> str:
    rows = rows_for(results)
    quick = any(r.get("quick") for r in results.values() if isinstance(r, dict))
    title = (
        f"bigcommerce-ometria-sync benchmarks{' (QUICK smoke run: small sizes)' if quick else ''} — "
        f"{machine['cpus']} CPUs, Python {machine['python']}, {machine['at']}"
    )
    widths = [min(MAX_WIDTHS[i], max(len(row[i]) for row in [HEADER, *rows])) for i in range(6)]
    lines = [title, ""]

    def fmt(row: Row) -> list[str]:
        cells = [_wrap(cell, widths[i]) for i, cell in enumerate(row)]
        height = max(len(c) for c in cells)
        return [
            "  ".join((c[k] if k < len(c) else "").ljust(widths[i]) for i, c in enumerate(cells)).rstrip()
            for k in range(height)
        ]

    lines += fmt(HEADER)
    lines.append("-" * (sum(widths) + 10))
    previous = ""
    for row in rows:
        if row[0] != previous and previous:
            lines.append("")
        previous = row[0]
        lines += fmt(row)
    misses = [f"{row[0]}: {row[1]} = {row[2]} (target {row[4]})" for row in rows if row[5].startswith("MISS")]
    lines.append("")
    lines.append(
        "Closing note: "
        + ("every figure meets its target." if not misses else f"{len(misses)} figure(s) miss their target:")
    )
    lines += [f"  - {m}" for m in misses]
    return "\n".join(lines)


def _wrap(text: str, width: int) -> list[str]:
    words, lines, line = text.split(" "), [], ""
    for word in words:
        if line and len(line) + 1 + len(word) > width:
            lines.append(line)
            line = word
        else:
            line = f"{line} {word}" if line else word
    return [*lines, line]
