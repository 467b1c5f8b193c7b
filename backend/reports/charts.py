"""The reports' charts as PNG bytes, drawn server-side with matplotlib's Agg canvas (no pyplot,
no global state): a daily trend with its provisional days apart, a reliability diagram with
each bin's interval, and the agent against the human baseline per action type.

They draw numbers they are given and compute none. The same input gives the same bytes (no
timestamp or software name in the file); a fixed small DPI keeps each chart a few tens of KB.
"""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass

from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from backend.analytics.metrics import ActionTypeRate, TrendPoint
from backend.calibration.repository import ReliabilityBin

DPI = 100
WIDTH = 6.0  # inches: 600 px at DPI, the usual width of an e-mail's body
FONT = "DejaVu Sans"  # bundled with matplotlib: nothing to download, the same on every host
INK = "#1f2937"
MUTED = "#9ca3af"
AGENT = "#2563eb"
HUMAN = "#f59e0b"
PROVISIONAL = "#cbd5e1"
GRID = "#e5e7eb"


def _figure(height: float) -> Figure:
    figure = Figure(figsize=(WIDTH, height), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    return figure


def _style(ax: Axes) -> None:
    ax.tick_params(colors=INK, labelsize=8)
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    for side in ("left", "bottom"):
        ax.spines[side].set_color(MUTED)
    ax.grid(axis="y", color=GRID, linewidth=0.6)
    ax.set_axisbelow(True)
    for label in (*ax.get_xticklabels(), *ax.get_yticklabels()):
        label.set_fontfamily(FONT)


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(
        buffer,
        format="png",
        dpi=DPI,
        facecolor="white",
        metadata={"Software": None},  # no version, no date: the same input gives the same bytes
        pil_kwargs={"optimize": True},
    )
    figure.clear()
    return buffer.getvalue()


def _title(figure: Figure, text: str) -> None:
    figure.suptitle(text, fontsize=11, color=INK, fontfamily=FONT, x=0.01, ha="left")


def trend_chart(points: Sequence[TrendPoint], *, title: str) -> bytes:
    """Actions per day (bars) and the reply rate of each matured day (line). Provisional days,
    whose reply windows are still open, are pale, hatched bars and have no rate yet."""
    figure = _figure(2.6)
    ax = figure.add_subplot()
    x = list(range(len(points)))
    colors = [PROVISIONAL if p.provisional else "#93c5fd" for p in points]
    ax.bar(
        x,
        [p.actions for p in points],
        color=colors,
        hatch=None,
        width=0.8,
        edgecolor=[MUTED if p.provisional else "#93c5fd" for p in points],
        linewidth=0.5,
    )
    for i, p in enumerate(points):
        if p.provisional:
            ax.bar(i, p.actions, width=0.8, color="none", hatch="///", edgecolor=MUTED, lw=0)
    ax.set_ylabel("actions", fontsize=8, color=INK, fontfamily=FONT)
    _style(ax)
    labels = [p.day.strftime("%d %b") for p in points]
    step = max(1, math.ceil(len(points) / 8))
    ax.set_xticks(x[::step], labels[::step])
    ax.set_xlim(-0.6, len(points) - 0.4)
    rate_ax = ax.twinx()
    rates = [
        p.replies / p.reply_outcomes if p.reply_outcomes and not p.provisional else math.nan
        for p in points
    ]
    rate_ax.plot(x, rates, color=AGENT, marker="o", markersize=3, linewidth=1.5)
    rate_ax.set_ylim(0, max(0.05, max((r for r in rates if not math.isnan(r)), default=0)) * 1.25)
    rate_ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    rate_ax.tick_params(colors=AGENT, labelsize=8)
    rate_ax.set_ylabel("reply rate", fontsize=8, color=AGENT, fontfamily=FONT)
    for side in ("top", "left", "bottom"):
        rate_ax.spines[side].set_visible(False)
    rate_ax.spines["right"].set_color(MUTED)
    ax.legend(
        handles=[
            Patch(facecolor="#93c5fd", label="actions"),
            Patch(facecolor=PROVISIONAL, hatch="///", edgecolor=MUTED, label="provisional day"),
            Line2D([], [], color=AGENT, marker="o", markersize=3, label="reply rate (matured)"),
        ],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        frameon=False,
        ncols=3,
        prop={"family": FONT, "size": 7.5},
        borderaxespad=0.2,
    )
    _title(figure, title)
    return _png(figure)


@dataclass(frozen=True)
class ReliabilityPanel:
    """One action type's reliability bins (``calibration`` query's ``reliability``)."""

    action_type: str
    verdict: str
    bins: Sequence[ReliabilityBin]


def reliability_chart(panels: Sequence[ReliabilityPanel], *, title: str) -> bytes:
    """Per action type, each non-empty bin's observed rate against its mean stated confidence,
    with its 95% Wilson interval, beside the diagonal of perfect calibration."""
    shown = list(panels) or [ReliabilityPanel("no outcomes", "insufficient_data", [])]
    columns = min(3, len(shown))
    rows = math.ceil(len(shown) / columns)
    figure = _figure(0.45 + 2.0 * rows)
    axes = figure.subplots(rows, columns, squeeze=False)
    for index, ax in enumerate(axes.flat):
        if index >= len(shown):
            ax.set_visible(False)
            continue
        panel = shown[index]
        full = [b for b in panel.bins if b.count > 0]
        ax.plot([0, 1], [0, 1], color=MUTED, linestyle="--", linewidth=0.8)
        if full:
            x = [b.mean_confidence for b in full]
            y = [b.observed_rate for b in full]
            below = [max(0.0, b.observed_rate - b.wilson_lower) for b in full]
            above = [max(0.0, b.wilson_upper - b.observed_rate) for b in full]
            ax.errorbar(
                x,
                y,
                yerr=[below, above],
                fmt="o",
                color=AGENT,
                ecolor="#93c5fd",
                markersize=3.5,
                elinewidth=1.2,
                capsize=2,
            )
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_aspect("equal")
        ax.set_xticks([0, 0.5, 1], ["0", "0.5", "1"])
        ax.set_yticks([0, 0.5, 1], ["0", "0.5", "1"])
        _style(ax)
        ax.grid(axis="x", color=GRID, linewidth=0.6)
        ax.set_title(
            f"{panel.action_type.replace('_', ' ')}: {panel.verdict.replace('_', ' ')}",
            fontsize=8,
            color=INK,
            fontfamily=FONT,
        )
        if index % columns == 0:
            ax.set_ylabel("observed", fontsize=8, color=INK, fontfamily=FONT)
        if index // columns == rows - 1:
            ax.set_xlabel("stated confidence", fontsize=8, color=INK, fontfamily=FONT)
    _title(figure, title)
    return _png(figure)


def agent_vs_human_chart(rates: Sequence[ActionTypeRate], *, title: str) -> bytes:
    """Per action type, the agent's success rate and the human baseline's, each with its 95%
    Wilson interval (types without a baseline show the agent alone)."""
    shown = [r for r in rates if r.agent.count > 0] or list(rates)
    figure = _figure(0.8 + 0.4 * max(1, len(shown)))
    ax = figure.add_subplot()
    for i, r in enumerate(shown):
        y = len(shown) - 1 - i
        pairs: list[tuple[float, float, float, str, float]] = [
            (r.agent.rate, r.agent.lower, r.agent.upper, AGENT, y + 0.12)
        ]
        if r.versus_human is not None:
            h = r.versus_human.human
            pairs.append((h.rate, h.lower, h.upper, HUMAN, y - 0.12))
        for rate, lower, upper, color, at in pairs:
            if math.isnan(rate):
                continue
            ax.plot([lower, upper], [at, at], color=color, linewidth=2, alpha=0.45)
            ax.plot([rate], [at], "o", color=color, markersize=5)
    ax.set_yticks(
        [len(shown) - 1 - i for i in range(len(shown))],
        [r.action_type.replace("_", " ") for r in shown],
    )
    ax.set_ylim(-0.6, len(shown) - 0.4)
    ax.set_xlim(0, 1)
    ax.xaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    _style(ax)
    ax.grid(axis="x", color=GRID, linewidth=0.6)
    ax.grid(axis="y", visible=False)
    ax.set_xlabel("success rate (95% interval)", fontsize=8, color=INK, fontfamily=FONT)
    ax.legend(
        handles=[
            Line2D([], [], color=AGENT, marker="o", label="agent"),
            Line2D([], [], color=HUMAN, marker="o", label="human baseline"),
        ],
        loc="lower left",
        bbox_to_anchor=(0, 1.0),
        ncols=2,
        frameon=False,
        prop={"family": FONT, "size": 7.5},
        borderaxespad=0.2,
    )
    _title(figure, title)
    return _png(figure)
