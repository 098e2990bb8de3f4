"""The comparison's outputs: medians per cell, the Markdown table with netecho's ratio to the
best peer, and an SVG chart of the main figures (hand-written SVG, no plotting library)."""

import statistics

from scenarios import FIGURES


def medians(runs, servers):
    """{server: {figure key: {"median", "n", "rounds", "notes"}}} from the raw runs. A
    pass/fail figure's "median" is its worst round: it passes only if every round did."""
    cells = {s: {} for s in servers}
    for fig in FIGURES:
        for server in servers:
            mine = [r for r in runs if r["server"] == server and r["scenario"] == fig.scenario]
            if not mine:
                continue
            values = [r["figures"][fig.key] for r in mine
                      if r["figures"].get(fig.key) is not None]
            median = None
            if values:
                median = min(values) if fig.better == "ok" else statistics.median(values)
            cells[server][fig.key] = {"median": median, "n": len(values), "rounds": len(mine),
                                      "notes": [r["note"] for r in mine if r["note"]]}
    return cells


def _best(cells, peers, fig):
    """(best median, peer) among the peers whose cell is clean: a figure measured beside
    errors (losses, timeouts) is not one to beat."""
    values = [(cells[p][fig.key]["median"], p) for p in peers
              if fig.key in cells[p] and cells[p][fig.key]["median"] is not None
              and not cells[p][fig.key]["notes"]]
    if not values or fig.better == "ok":
        return None, None
    return (max if fig.better == "hi" else min)(values)


def _fmt(value, fig):
    if value is None:
        return "–"
    if fig.better == "ok":
        return "yes" if value >= 1 else "**no**"
    if fig.digits == 0:
        return f"{value:,.0f}"
    return f"{value:,.{fig.digits}f}"


def _cell_text(cell, fig):
    if cell is None:
        return "n/a"
    text = _fmt(cell["median"], fig)
    if cell["notes"]:
        text += " †"
    if fig.better == "ok" and cell["rounds"]:
        passed = cell["rounds"] - len(cell["notes"])
        text = f"{'yes' if passed == cell['rounds'] else '**no**'} ({passed}/{cell['rounds']})"
    return text


def _target_text(fig):
    kind, x = fig.target or (None, None)
    if kind == "ratio_max":
        return f"≤ {x:.2f}×" if x != 1 else "≤ 1×"
    if kind == "ratio_min":
        return f"≥ {x:g}×"
    if kind == "abs_max":
        return f"≤ {x:.2g} {fig.unit}"
    if kind == "all":
        return "always"
    return ""


def _verdict(fig, ratio, own):
    kind, x = fig.target or (None, None)
    if kind == "ratio_max" and ratio is not None:
        return ratio <= x
    if kind == "ratio_min" and ratio is not None:
        return ratio >= x
    if kind == "abs_max" and own is not None:
        return own <= x
    if kind == "all" and own is not None:
        return own >= 1
    return None


def ratios(cells, peers, netecho_rows):
    """{netecho row: {figure key: (ratio or None, verdict or None, best peer)}}."""
    out = {}
    for row in netecho_rows:
        out[row] = {}
        for fig in FIGURES:
            best, best_peer = _best(cells, peers, fig)
            own_cell = cells[row].get(fig.key)
            own = own_cell["median"] if own_cell else None
            ratio = own / best if own is not None and best else None
            out[row][fig.key] = (ratio, _verdict(fig, ratio, own), best_peer)
    return out


def label(fig, idle_conns):
    return fig.label.format(idle=f"{idle_conns:,}")


def markdown(cells, servers, peers, netecho_rows, idle_conns):
    """The table: one row per server, one column per figure, then netecho's ratios."""
    lines = []
    header = ["server"] + [f"{label(f, idle_conns)} ({f.unit})" for f in FIGURES]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for s in servers:
        row = [f"**{s}**" if s in netecho_rows else s]
        row += [_cell_text(cells[s].get(f.key), f) for f in FIGURES]
        lines.append("| " + " | ".join(row) + " |")
    rat = ratios(cells, peers, netecho_rows)
    for nrow in netecho_rows:
        row = [f"{nrow} ÷ best peer"]
        for f in FIGURES:
            ratio, verdict, best_peer = rat[nrow][f.key]
            mark = {True: " ✓", False: " ✗", None: ""}[verdict]
            if f.target and f.target[0] in ("abs_max", "all"):
                row.append(mark.strip() or "–")
            elif ratio is None:
                row.append("–")
            else:
                row.append(f"{ratio:.2f}× ({best_peer}){mark}")
        lines.append("| " + " | ".join(row) + " |")
    lines.append("| target | " + " | ".join(_target_text(f) for f in FIGURES) + " |")
    notes = footnotes(cells, servers)
    if notes:
        lines.append("")
        lines.append("† in some round of this cell the run had errors (the figure is what was "
                     "measured beside them, and is not taken as the best peer's), measured "
                     "nothing (–), or failed:")
        lines.extend(notes)
    return "\n".join(lines) + "\n"


def footnotes(cells, servers):
    """One line per server and scenario with failed rounds: how many, and the first reason."""
    notes = []
    for server in servers:
        seen = set()
        for fig in FIGURES:
            cell = cells[server].get(fig.key)
            if not cell or not cell["notes"] or fig.scenario in seen:
                continue
            seen.add(fig.scenario)
            reason = cell["notes"][0].replace("|", "/")
            notes.append(f"- {server}, {fig.scenario}: {len(cell['notes'])} of "
                         f"{cell['rounds']} round(s): {reason}")
    return notes


# The chart's panels: the figures the targets are about.
CHART = ["b_rate", "b_cpu", "c_rate", "d_mbps", "a_p999", "e_p99", "e_rate", "e_cpu", "f_pss"]


def _esc(text):
    return (str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


def svg(cells, servers, netecho_rows, title, idle_conns):
    """Small multiples: one horizontal bar chart per main figure, netecho's bars in orange,
    the peers' in blue; each bar is labelled with its median."""
    figs = [f for key in CHART for f in FIGURES if f.key == key]
    cols = 3
    panel_w, bar_h, gap = 330, 16, 4
    label_w = 92
    panel_h = 44 + len(servers) * (bar_h + gap)
    rows = (len(figs) + cols - 1) // cols
    width = cols * panel_w + 20
    height = 60 + rows * (panel_h + 20)
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="11">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="{width / 2}" y="24" text-anchor="middle" font-size="15" '
           f'font-weight="bold">{_esc(title)}</text>',
           f'<text x="{width / 2}" y="42" text-anchor="middle" fill="#555">'
           f'each bar the median of the rounds; orange: netecho, blue: the peers</text>']
    for i, fig in enumerate(figs):
        x0 = 10 + (i % cols) * panel_w
        y0 = 60 + (i // cols) * (panel_h + 20)
        better = "higher is better" if fig.better == "hi" else "lower is better"
        out.append(f'<text x="{x0 + 4}" y="{y0 + 14}" font-weight="bold">'
                   f'{_esc(label(fig, idle_conns))} ({_esc(fig.unit)})</text>')
        out.append(f'<text x="{x0 + 4}" y="{y0 + 28}" fill="#555">{better}</text>')
        values = [cells[s].get(fig.key, {}).get("median") for s in servers]
        top = max([v for v in values if v is not None] or [1]) or 1
        bar_max = panel_w - label_w - 70
        for j, (s, v) in enumerate(zip(servers, values)):
            y = y0 + 36 + j * (bar_h + gap)
            out.append(f'<text x="{x0 + label_w - 4}" y="{y + bar_h - 4}" '
                       f'text-anchor="end">{_esc(s)}</text>')
            if v is None:
                out.append(f'<text x="{x0 + label_w + 2}" y="{y + bar_h - 4}" '
                           f'fill="#999">n/a</text>')
                continue
            w = max(1.0, bar_max * v / top)
            color = "#e8700a" if s in netecho_rows else "#3b6ea8"
            out.append(f'<rect x="{x0 + label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                       f'fill="{color}"/>')
            out.append(f'<text x="{x0 + label_w + w + 3:.1f}" y="{y + bar_h - 4}">'
                       f'{_esc(_fmt(v, fig))}</text>')
    out.append("</svg>")
    return "\n".join(out) + "\n"
