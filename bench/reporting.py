"""The tables `bench_graphql.py` prints (Markdown, ready for docs/performance.md)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from bench.http_load import Workload
    from bench.live_events import EventTiming
    from bench.strawberry_overhead import Overhead


def _ms(seconds: float) -> str:
    return f"{1000 * seconds:.1f}"


def print_overhead(o: Overhead) -> None:
    print(
        "\nGraphQL layer in process (ms per request: parse, validate, guards, resolve, JSON; "
        "no server, no database)\n"
    )
    print("| schema | `{ __typename }` | whole rep dashboard | recordSignals, 100 signals |")
    print("| --- | ---: | ---: | ---: |")
    for name in o.trivial_ms:
        print(
            f"| {name} | {o.trivial_ms[name]:.2f} | {o.dashboard_ms[name]:.2f} | "
            f"{o.signals_ms[name]:.2f} |"
        )
    print(
        f"| plain endpoint (JSON in and out) | - | {o.plain_dashboard_ms:.2f} | "
        f"{o.plain_signals_ms:.2f} |"
    )
    print(
        f"\nresponse sizes: GraphQL {o.dashboard_bytes[0]:,} B, plain {o.dashboard_bytes[1]:,} B;"
        f" served schema's validation cache: {o.validation_cache}"
    )


def print_workload(w: Workload, *, unit: str) -> None:
    print(f"\n{w.name} ({unit}): capacity with a closed loop, then open loop at {w.rate:g}/s\n")
    print(
        "| server | capacity /s | CPU ms/req at capacity | achieved /s | p50 ms | p99 ms | "
        "max ms | CPU ms/req open loop | errors |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for kind in ("plain", "graphql"):
        cap, run = w.capacity[kind], w.runs[kind]
        print(
            f"| {kind} | {cap.per_second():.1f} | {cap.cpu_ms_per_request():.2f} | "
            f"{run.per_second():.1f} | {_ms(run.percentile(50))} | {_ms(run.percentile(99))} | "
            f"{_ms(max(run.latencies, default=float('nan')))} | "
            f"{run.cpu_ms_per_request():.2f} | {len(run.errors)} |"
        )
    p, g = w.runs["plain"], w.runs["graphql"]
    cp, cg = w.capacity["plain"], w.capacity["graphql"]

    def ratio(a: float, b: float) -> str:
        return f"{a / b:.2f}x" if b else "-"

    print(
        f"| GraphQL / plain | {ratio(cp.per_second(), cg.per_second())} (time) | "
        f"{ratio(cg.cpu_ms_per_request(), cp.cpu_ms_per_request())} | | "
        f"{ratio(g.percentile(50), p.percentile(50))} | "
        f"{ratio(g.percentile(99), p.percentile(99))} | | "
        f"{ratio(g.cpu_ms_per_request(), p.cpu_ms_per_request())} | |"
    )
    added = 1000 * (g.percentile(50) - p.percentile(50))
    share = 100 * (g.percentile(50) / p.percentile(50) - 1)
    print(
        f"\nGraphQL adds {added:.1f} ms at p50 ({share:.0f}"
        f" %), {g.cpu_ms_per_request() - p.cpu_ms_per_request():.2f} ms of server CPU per "
        f"request (open loop); errors: {(p.errors + g.errors)[:3] or 'none'}"
    )


def _receipt_latencies(t: EventTiming, start: float | None) -> np.ndarray[Any, Any]:
    got = [r for r in t.receipts if r is not None]
    return np.array(got) - start if start is not None and got else np.array([np.nan])


def print_events(
    warm_ups: list[EventTiming],
    measured: list[EventTiming],
    idle: EventTiming | None,
    *,
    subscribers: int,
) -> None:
    print(
        f"\nEvent latency, {subscribers} subscribers of outcomeNeedsLabel (ms; 'commit' = the "
        "event seen on Redis by the bench)\n"
    )
    print(
        "| event | received | commit->receipt p50 | p99 | max | response->receipt p50 | "
        "sent->commit | sent->response | server CPU ms | client CPU ms |"
    )
    print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    rows = [(f"warm-up {i + 1}", t) for i, t in enumerate(warm_ups)]
    rows += [(str(i + 1), t) for i, t in enumerate(measured)]
    rows += [("after quiet", idle)] if idle is not None else []
    for label, t in rows:
        latency = _receipt_latencies(t, t.published)
        after_response = _receipt_latencies(t, t.answered)
        committed = _ms(t.published - t.sent) if t.published is not None else "?"
        print(
            f"| {label} | {sum(r is not None for r in t.receipts)} | "
            f"{_ms(np.percentile(latency, 50))} | {_ms(np.percentile(latency, 99))} | "
            f"{_ms(latency.max())} | {_ms(np.percentile(after_response, 50))} | "
            f"{committed} | {_ms(t.answered - t.sent)} | {1000 * t.server_cpu:.0f} | "
            f"{1000 * t.client_cpu:.0f} |"
        )
    pooled = np.concatenate([_receipt_latencies(t, t.published) for t in measured])
    print(
        f"\nmeasured events pooled ({pooled.size:,} receipts): commit->receipt p50 "
        f"{_ms(np.percentile(pooled, 50))} ms, p99 {_ms(np.percentile(pooled, 99))} ms, "
        f"max {_ms(pooled.max())} ms"
    )
