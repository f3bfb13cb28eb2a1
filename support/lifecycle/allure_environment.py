"""The run's environment in the Allure report: ``environment.properties`` and ``executor.json`` written into
the results folder at the start of a run, and the sign-off entries (verdict, baseline, waivers) appended at
its end.

Why a module of its own: these files describe the run, not a scenario, and are written outside any
scenario (support/lifecycle/run_summary.py); the Java ``.properties`` escaping is theirs alone. Every value
is redacted before it is written.
"""

from __future__ import annotations

import json
import platform
from collections.abc import Mapping
from pathlib import Path

from support.lifecycle.verdict import RunSummary

# the suite's one redaction function, never re-implemented here (no fallback: a silent no-op would leak)
from support.wire.redaction import redact_text as _redact
from support.wire.redaction import redact_url as _redact_url

__all__ = ["append_properties", "format_properties", "signoff_properties", "write_run_metadata"]


def _escape_property(text: str, *, key: bool) -> str:
    out = []
    for i, ch in enumerate(text):
        if ch == "\\":
            out.append("\\\\")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\r":
            out.append("\\r")
        elif ch == "\t":
            out.append("\\t")
        elif ch in "=:#!" or (ch == " " and (key or i == 0)):
            out.append("\\" + ch)
        else:
            out.append(ch)
    return "".join(out)


def format_properties(values: Mapping[str, str]) -> str:
    """Java ``.properties`` text (what Allure reads as ``environment.properties``), keys in given order."""
    return "".join(
        f"{_escape_property(k, key=True)}={_escape_property(v, key=False)}\n" for k, v in values.items()
    )


def write_run_metadata(
    results_dir: Path,
    *,
    target_url: str,
    permiso_version: str | None,
    suite_version: str,
    run_id: str,
    capabilities: Mapping[str, str | None],
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Write ``environment.properties`` and ``executor.json`` into ``results_dir`` (created if needed).

    ``capabilities`` maps a capability name to None when present, else to the reason it is missing
    (the same mapping as ``context.capabilities``). Every value is redacted before it is written.
    Returns the properties written.
    """
    results_dir = Path(results_dir)
    results_dir.mkdir(parents=True, exist_ok=True)
    props: dict[str, str] = {
        "target.url": _redact_url(target_url),
        "permiso.version": permiso_version or "unknown (not reported by /health)",
        "suite.version": suite_version,
        "python.version": f"{platform.python_implementation()} {platform.python_version()}",
        "run.id": run_id,
    }
    for name in sorted(capabilities):
        reason = capabilities[name]
        props[f"capability.{name}"] = "present" if reason is None else f"skipped: {reason}"
    for key, value in (extra or {}).items():
        props[key] = str(value)
    props = {k: _redact(v) for k, v in props.items()}
    (results_dir / "environment.properties").write_text(format_properties(props), encoding="utf-8")

    executor = {
        "name": "permiso-acceptance",
        "type": "behave",
        "buildName": f"permiso-acceptance {suite_version} · run {run_id}",
        "reportName": "Permiso acceptance",
        "buildOrder": run_id,
        "reportUrl": "",
        "buildUrl": "",
    }
    (results_dir / "executor.json").write_text(json.dumps(executor, indent=2) + "\n", encoding="utf-8")
    return props


def signoff_properties(summary: RunSummary) -> dict[str, str]:
    """The verdict and what changed since the baseline, as ``environment.properties`` entries: the Allure
    dashboard's environment panel is where the release meeting reads the run's context."""
    judged = summary.judgement()
    props = {"signoff.verdict": summary.verdict.removeprefix("Verdict: ")}
    if judged.baseline is not None:
        props["signoff.baseline"] = f"{judged.baseline.date} ({judged.baseline.target})"
        props["signoff.causes"] = (f"{len(judged.new)} new, {len(judged.persisting)} persisting, "
                                   f"{len(judged.fixed)} fixed")
        for change, items in (("new", judged.new), ("persisting", judged.persisting), ("fixed", judged.fixed)):
            if items:
                keys = [str(c["key"]) for c in items]
                props[f"signoff.{change}"] = "; ".join(keys[:10]) + (f"; +{len(keys) - 10} more" if len(keys) > 10
                                                                     else "")
    for w in judged.waivers:
        props[f"signoff.waiver.{w['id']}"] = f"{w['state']} (until {w['expires']}; {w['accepted_by']})"
    return props


def append_properties(results_dir: Path, props: Mapping[str, str]) -> Path | None:
    """Add entries to the run's ``environment.properties`` (written by :func:`write_run_metadata`)."""
    path = Path(results_dir) / "environment.properties"
    if not props or not path.parent.is_dir():
        return None
    with path.open("a", encoding="utf-8") as out:
        out.write(format_properties({k: _redact(v) for k, v in props.items()}))
    return path
