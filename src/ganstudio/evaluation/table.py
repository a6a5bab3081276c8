"""The table ``ganstudio evaluate`` prints: one column per registered metric present in the rows."""

from __future__ import annotations

from pathlib import Path

from .registry import shown

ROW_NAMES = (("generated", "generated"), ("real", "real (data)"))  # result row -> table row title


def table_rows(res: dict) -> list[tuple[str, dict]]:
    """(title, row) of a result's rows, in table order."""
    return [(title, res["rows"][key]) for key, title in ROW_NAMES]


def format_table(res: dict) -> str:
    """The human-readable table of one result (``evaluate``'s return value or an eval JSON)."""
    ext = res["extractor"]
    acc = ext.get("accuracy")
    lines = [
        (
            f"run {Path(res['run']).name}, step {res['step']}: {res['n']} samples (seeds {res['seed']}.."
            f"{res['seed'] + res['n'] - 1})"
        ),
        f"features:  {res['extractor_label']} -- {ext.get('description', '')}"
        + (
            f" [{100 * acc:.2f} % {ext.get('accuracy_split')} accuracy]"
            if acc is not None and "accuracy" not in ext.get("description", "")
            else ""
        ),
        f"reference: {res['data']['reference']}",
        f"real row:  {res['data']['real_row']}",
        f"originality: nearest of {res['data']['twins']}",
    ]
    rows = table_rows(res)
    cols = shown(r for _, r in rows)
    header = ["", *[m.label for m in cols]]
    body = [[title, *[m.format(r) for m in cols]] for title, r in rows]
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines.append("")
    for row in [header, *body]:
        lines.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    lines.append("")
    lines.append(f"numbers are comparable only with the same features ({res['extractor_label']}), n and reference")
    if res.get("path"):
        lines.append(f"written: {res['path']}")
    return "\n".join(lines)
