"""The load benchmark's record (``load.json``) and what is rendered from it:
tables in ``README.md`` between the markers below, and ``load.svg``, p99
against conversations, drawn by hand (no plotting dependency).

A point is one load (stack, conversations, rate, agents, tabs) with every
system measured in the same run; a rerun of the same load replaces it.
"""

import json
import math
from html import escape
from pathlib import Path

BEGIN = "<!-- load:begin (benchmarks/load.py writes this part) -->"
END = "<!-- load:end -->"
SYSTEMS = ("ours", "relay", "echo")
TARGETS = [
    # (stack, conversations, rate, agents): 0 lost, p99 <= 3x the relay's
    ("embedded", 250, 1.0, 5),
    ("scaleout", 500, 1.0, 10),
]
HUMAN_AIM = {"scaleout": 2500}


def worst_p99(figures: dict) -> float:
    """The larger p99 of the two directions (infinite when nothing came)."""
    return max(
        figures["visitor_to_agent"].get("p99", math.inf),
        figures["agent_to_visitor"].get("p99", math.inf),
    )


def one_line(f: dict) -> str:
    def pair(d):
        return f"p50 {d['p50']} / p99 {d['p99']} ms" if d.get("n") else "none"

    errors = {**f["setup_errors"], **f["run_errors"]}
    return (
        f"v→a {pair(f['visitor_to_agent'])}, a→v {pair(f['agent_to_visitor'])}, "
        f"lost {f['lost']}/{f['expected']} {f['lost_by_route'] or ''}, "
        f"answered {f['answers']}/{f['messages']}, ready {f['conversations_ready']}, "
        f"setup {f['setup_s']} s, CPU server {f['server_cpu']} % client {f['client_cpu']} % "
        f"others {f['others_cpu']} %, client lag {f['client_lag_ms']} ms"
        + (f", errors {errors}" if errors else "")
        + (f", unacknowledged {f['answers_unacknowledged']}" if f["answers_unacknowledged"] else "")
        + (f", duplicates {f['duplicates']}" if f["duplicates"] else "")
    )


def point_key(point: dict) -> str:
    """The load; and the code's name when it was named (``--label``), so that
    a named baseline keeps its rows beside the current code's."""
    key = "{stack} {conversations}x{rate:g}/s k{agents} t{tabs}".format(**point)
    return f"{key} [{point['code']}]" if point.get("named") else key


class Results:
    def __init__(self, data: dict):
        self.points: dict = data.get("points", {})
        self.idle: dict = data.get("idle", {})
        self.search: dict = data.get("search", {})
        self.new: list[str] = []

    @classmethod
    def load(cls, path: Path) -> "Results":
        return cls(json.loads(path.read_text()) if path.exists() else {})

    def save(self, path: Path):
        data = {"points": self.points, "idle": self.idle, "search": self.search}
        path.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n")

    def add_point(self, point: dict):
        key = point_key(point)
        self.points[key] = point
        self.new.append(key)

    def add_idle(self, record: dict):
        self.idle[f"{record['stack']} {record['system']}"] = record

    def add_search(self, record: dict):
        self.search[record["stack"]] = record

    def sorted_points(self, keys=None) -> list[dict]:
        points = [self.points[k] for k in (keys or self.points)]
        return sorted(
            points, key=lambda p: (p["stack"], -p["rate"], p["conversations"], not p.get("named"))
        )

    def table(self, only_new=False) -> str:
        """Ours beside the relay and the echo, one row per system and load."""
        rows = [
            "| stack | conversations × msg/s | agents | system | visitor → agent p50 / p99 "
            "| agent → visitor p50 / p99 | lost | p99 ÷ relay | CPU: server / client / others "
            "| code |",
            "|---|---|---|---|---|---|---|---|---|---|",
        ]
        for point in self.sorted_points(self.new if only_new else None):
            relay = point["systems"].get("relay")
            for system in SYSTEMS:
                f = point["systems"].get(system)
                if f is None:
                    continue
                ratio = ""
                if relay and system != "relay":
                    ratio = f"{worst_p99(f) / worst_p99(relay):.1f}×"
                rows.append(
                    f"| {point['stack']} | {point['conversations']} × {point['rate']:g} "
                    f"| {point['agents']} | {system} | {ms_pair(f['visitor_to_agent'])} "
                    f"| {ms_pair(f['agent_to_visitor'])} | {lost(f)} | {ratio} "
                    f"| {f['server_cpu']} / {f['client_cpu']} / {f.get('others_cpu', '?')} % "
                    f"| {point['code']}, {point['date']} |"
                )
        return "\n".join(rows)

    def idle_table(self) -> str:
        rows = [
            "| stack | system | idle sockets | server RSS before → after | per socket |",
            "|---|---|---|---|---|",
        ]
        for key in sorted(self.idle):
            r = self.idle[key]
            rows.append(
                f"| {r['stack']} | {r['system']} | {r['sockets']} "
                f"| {r['rss_before_kb'] / 1024:.0f} → {r['rss_after_kb'] / 1024:.0f} MB "
                f"| **{r['kb_per_socket']:.0f} KB** |"
            )
        return "\n".join(rows)

    def verdicts(self) -> list[str]:
        lines = []
        for stack, n, rate, k in TARGETS:
            found = [
                p
                for p in self.points.values()
                if (p["stack"], p["conversations"], p["rate"], p["agents"]) == (stack, n, rate, k)
            ]
            what = f"{stack}, {n} conversations × {rate:g} msg/s, {k} agents"
            if not found or "ours" not in found[0]["systems"] or "relay" not in found[0]["systems"]:
                lines.append(f"- {what}: not measured yet.")
                continue
            ours, relay = found[0]["systems"]["ours"], found[0]["systems"]["relay"]
            ratio = worst_p99(ours) / worst_p99(relay)
            ok = ours["lost"] == 0 and ratio <= 3
            lines.append(
                f"- {what}: {'**met**' if ok else '**missed**'}: lost {ours['lost']}, "
                f"p99 {worst_p99(ours):g} ms = {ratio:.1f}× the relay's {worst_p99(relay):g} ms."
            )
        for stack, record in sorted(self.search.items()):
            aim = f" (aim: {HUMAN_AIM[stack]:,})" if stack in HUMAN_AIM else ""
            largest = f"{record['largest']:,}" if record["largest"] else "none"
            lines.append(
                f"- human pace, {stack}: the largest N at 1 message per 10 s with p99 < 50 ms "
                f"and nothing lost: **{largest}**{aim}; tried {record['tried']}."
            )
        newcomer = self.newcomer()
        if newcomer:
            lines.append(newcomer)
        return lines

    def newcomer(self) -> str:
        """What a new visitor got at the heaviest load measured."""
        heaviest = max(
            (p for p in self.points.values() if "ours" in p["systems"]),
            key=lambda p: p["conversations"] * p["rate"] * (p["agents"] + p["tabs"]),
            default=None,
        )
        if heaviest is None or not heaviest["systems"]["ours"].get("newcomer"):
            return ""
        got = ", ".join(f"{k} {v}" for k, v in heaviest["systems"]["ours"]["newcomer"].items())
        return (
            f"- a new visitor arriving mid-run at the heaviest load measured ({point_key(heaviest)}"
            f", ours): {got}."
        )

    def markdown(self) -> str:
        return "\n\n".join(
            [
                "![p99 against conversations](load.svg)",
                "\n".join(self.verdicts()),
                self.table(),
                "Memory per idle connection (visitor sockets that said hello; one server process):",
                self.idle_table(),
            ]
        )


def ms_pair(d: dict) -> str:
    return f"{d['p50']:g} / **{d['p99']:g}** ms" if d.get("n") else "—"


def lost(f: dict) -> str:
    text = f"{f['lost']} of {f['expected']}"
    if f["conversations_ready"] and f.get("setup_errors"):
        text += " (setup: " + ", ".join(f"{k} ×{v}" for k, v in f["setup_errors"].items()) + ")"
    return text


def render(results: Results, readme: Path, svg: Path):
    text = readme.read_text()
    block = f"{BEGIN}\n\n{results.markdown()}\n\n{END}"
    if BEGIN in text and END in text:
        head, rest = text.split(BEGIN, 1)
        text = head + block + rest.split(END, 1)[1]
    else:
        text = text.rstrip("\n") + "\n\n" + block + "\n"
    readme.write_text(text)
    svg.write_text(plot(results))


# -- The plot ------------------------------------------------------------------

COLOURS = {"ours": "#1f5fd6", "relay": "#e3711b", "echo": "#8a8f98"}
PANEL_W, PANEL_H, MARGIN = 420, 300, 56


def plot(results: Results) -> str:
    """One panel per stack: the worse direction's p99 of each system against
    conversations, both axes logarithmic; solid at 1 msg/s, dashed at human
    pace, faded and named for a named baseline (``--label``); a red ring
    marks a point that lost messages."""
    stacks = ["embedded", "scaleout"]
    series: dict = {}
    for p in results.points.values():
        for system, f in p["systems"].items():
            if f["visitor_to_agent"].get("n") and f["agent_to_visitor"].get("n"):
                key = (p["stack"], system, p["rate"], p["code"] if p.get("named") else "")
                series.setdefault(key, []).append((p["conversations"], worst_p99(f), f["lost"]))
    xs = [x for points in series.values() for x, _, _ in points] or [10, 1000]
    ys = [y for points in series.values() for _, y, _ in points] or [1, 100]
    x_lo, x_hi = decade_floor(min(xs)), decade_ceil(max(xs))
    y_lo, y_hi = decade_floor(min(ys)), decade_ceil(max(ys))
    width = len(stacks) * (PANEL_W + MARGIN) + MARGIN
    height = PANEL_H + 2 * MARGIN + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
        f'<rect width="{width}" height="{height}" fill="white"/>',
    ]
    for i, stack in enumerate(stacks):
        left, top = MARGIN + i * (PANEL_W + MARGIN), MARGIN

        def sx(x, left=left):
            return left + PANEL_W * math.log10(x / x_lo) / math.log10(x_hi / x_lo)

        def sy(y, top=top):
            return top + PANEL_H * (1 - math.log10(y / y_lo) / math.log10(y_hi / y_lo))

        title = "embedded: SQLite, in-memory layer, 1 process"
        if stack == "scaleout":
            title = "scale-out: PostgreSQL + Redis, 2 processes"
        out.append(f'<text x="{left}" y="{top - 12}" font-size="13">{title}</text>')
        out.append(
            f'<rect x="{left}" y="{top}" width="{PANEL_W}" height="{PANEL_H}" '
            'fill="none" stroke="#999"/>'
        )
        for tick in log_ticks(x_lo, x_hi):
            x = sx(tick)
            out.append(
                f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{top + PANEL_H}" stroke="#eee"/>'
            )
            out.append(
                f'<text x="{x:.1f}" y="{top + PANEL_H + 14}" text-anchor="middle">{tick:g}</text>'
            )
        for tick in log_ticks(y_lo, y_hi):
            y = sy(tick)
            out.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + PANEL_W}" y2="{y:.1f}" stroke="#eee"/>'
            )
            out.append(f'<text x="{left - 4}" y="{y + 4:.1f}" text-anchor="end">{tick:g}</text>')
        if y_lo <= 50 <= y_hi:
            y = sy(50)
            out.append(
                f'<line x1="{left}" y1="{y:.1f}" x2="{left + PANEL_W}" y2="{y:.1f}" '
                'stroke="#c00" stroke-dasharray="2 3"/>'
                f'<text x="{left + PANEL_W - 4}" y="{y - 4:.1f}" text-anchor="end" fill="#c00">'
                "50 ms</text>"
            )
        out.append(
            f'<text x="{left + PANEL_W / 2}" y="{top + PANEL_H + 30}" text-anchor="middle">'
            "conversations</text>"
        )
        out.append(
            f'<text transform="translate({left - 38} {top + PANEL_H / 2}) rotate(-90)" '
            'text-anchor="middle">p99, ms (worse direction)</text>'
        )
        for (s, system, rate, baseline), points in sorted(series.items()):
            if s != stack:
                continue
            points.sort()
            colour = COLOURS.get(system, "black")
            dash = "" if rate >= 1 else ' stroke-dasharray="6 4"'
            if baseline:
                dash += ' opacity="0.45"'
                x, y, _ = points[-1]
                out.append(
                    f'<text x="{sx(x) + 6:.1f}" y="{sy(y) + 4:.1f}" fill="{colour}" '
                    f'opacity="0.7">{escape(baseline)}</text>'
                )
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y, _ in points)
            out.append(
                f'<polyline points="{path}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'
            )
            for x, y, lost_count in points:
                out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="3" fill="{colour}"/>')
                if lost_count:
                    out.append(
                        f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="7" fill="none" '
                        'stroke="#c00" stroke-width="1.5"/>'
                    )
    legend_y = height - 16
    x = MARGIN
    for system, colour in COLOURS.items():
        out.append(
            f'<line x1="{x}" y1="{legend_y - 4}" x2="{x + 24}" y2="{legend_y - 4}" '
            f'stroke="{colour}" stroke-width="2"/><text x="{x + 30}" y="{legend_y}">{system}</text>'
        )
        x += 90
    out.append(
        f'<text x="{x}" y="{legend_y}">solid: 1 msg/s per conversation; dashed: 1 per 10 s; '
        "red ring: messages lost; faded: a named baseline</text>"
    )
    out.append("</svg>")
    return "\n".join(out) + "\n"


def decade_floor(v: float) -> float:
    return 10 ** math.floor(math.log10(max(v, 1e-3)))


def decade_ceil(v: float) -> float:
    return 10 ** math.ceil(math.log10(max(v, 1e-3)) + 1e-9)


def log_ticks(lo: float, hi: float) -> list[float]:
    ticks, decade = [], lo
    while decade <= hi * 1.0001:
        for m in (1, 2, 5):
            if lo <= decade * m <= hi * 1.0001:
                ticks.append(round(decade * m, 6))
        decade *= 10
    return ticks
