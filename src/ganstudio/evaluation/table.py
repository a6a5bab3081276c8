"""The table ``ganstudio evaluate`` prints: one column per registered metric present in the rows."""

from __future__ import annotations

from pathlib import Path

from .registry import shown

ROW_NAMES = (("generated", "generated"), ("real", "real (data)"))  # result row -> table row title


def table_rows(res: dict) -> list[tuple[str, dict]]:
    """(title, row) of a result's rows, in table order."""
    return [(title, res["rows"][key]) for key, title in ROW_NAMES]


def fragility_label(res: dict) -> str | None:
    """The title of the FID-fragility column (``evaluate(..., fragility=eps)``), or None without one."""
    f = res.get("fragility")
    return f"FID +-{f['eps_255']:g}/255" if f else None


def fragility_cell(res: dict, key: str) -> str:
    """The FID-fragility cell of table row ``key``: the lowest and highest FID that changes of at most eps
    per pixel reached ("low..high"; the random change alone when the extractor has no gradient). Only the
    generated row is measured; "-" elsewhere."""
    f = res.get("fragility")
    if not f or key != "generated":
        return "-"
    reached = [v for v in (f.get("fid_down"), f.get("fid_random"), f.get("fid_up")) if v is not None]
    if not reached:
        return "?"
    return f"{min(reached):.3f}..{max(reached):.3f}"


def table_columns(res: dict) -> tuple[list[str], list[list[str]]]:
    """(header, body) of a result's table: one column per registered metric present in the rows, plus the
    FID-fragility column right after FID when the result has one. Body rows start with the row title."""
    rows = table_rows(res)
    cols = shown(r for _, r in rows)
    header = ["", *[m.label for m in cols]]
    body = [[title, *[m.format(r) for m in cols]] for title, r in rows]
    label = fragility_label(res)
    if label:
        names = [m.name for m in cols]
        at = names.index("fid") + 2 if "fid" in names else len(header)
        header.insert(at, label)
        for (key, _), line in zip(ROW_NAMES, body):
            line.insert(at, fragility_cell(res, key))
    return header, body


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
    ]
    if res["data"].get("twins"):
        lines.append(f"originality: nearest of {res['data']['twins']}")
    mix = res.get("class_mix")
    if mix:
        lines.append(
            "classes:   " + ("asked in the reference's proportions" if mix == "data" else "asked in turn (uniform)")
        )
    if res.get("decoder"):
        lines.append(f"decoder:   {res['decoder']} (sounds judged as waveforms at {res.get('sample_rate')} Hz)")
    header, body = table_columns(res)
    widths = [max(len(str(row[i])) for row in [header, *body]) for i in range(len(header))]
    lines.append("")
    for row in [header, *body]:
        lines.append("  ".join(str(c).rjust(w) if i else str(c).ljust(w) for i, (c, w) in enumerate(zip(row, widths))))
    lines.append("")
    lines.append(f"numbers are comparable only with the same features ({res['extractor_label']}), n and reference")
    if res.get("is_share") is not None:
        g, r = res["rows"]["generated"]["classifier_score"], res["rows"]["real"]["classifier_score"]
        lines.append(f"inception score (cls score): generated {g:.3f} = {100 * res['is_share']:.1f} % of real {r:.3f}")
    f = res.get("fragility")
    if f:
        lines.append(
            f"{fragility_label(res)}: FID of the generated pictures after changes of at most {f['eps_255']:g}/255 "
            f"per pixel (random, and {f['steps']} gradient steps down and up; clean {f['clean_fid']:.3f})"
            + (" -- this extractor has no gradient here: random changes only" if f.get("fid_up") is None else "")
        )
    if res.get("path"):
        lines.append(f"written: {res['path']}")
    return "\n".join(lines)
