"""``permiso-acceptance report``: build the Allure 3 report (multi-file and single-file) with trends.

Why: release sign-off happens on the Allure dashboard, and the release machine has Node but not
necessarily Java. Allure 3 (npm package ``allure``) needs only Node. This command

- builds the multi-file "awesome" report into ``--output`` (default ``allure-report/``; serve it over
  http to view it, e.g. with ``--open``) and a single self-contained HTML file
  (``<output>/permiso-acceptance-report.html``) to attach to a release ticket, in ONE Allure pass, so
  the run is appended to the history exactly once;
- keeps the history in ``--history-dir`` (``history.jsonl`` inside; keep that folder between runs,
  e.g. as a CI cache, and the trend charts fill up);
- uses ``allurerc.mjs`` at the project root (categories, grouping) and overrides only the paths;
- makes the report's categories follow the run's causes: when the run's ``signoff-summary.json`` is
  found (``--summary``, default ``reports/signoff-summary.json``), the generated config puts one
  category per cause first (a broken run-wide rule, a refused precondition, a defect, a scenario's own
  rule), matching the ``cause`` label the suite gives every failed result (precondition messages start
  with "could not prepare", a fallback when the label is missing); ``allurerc.mjs``'s own categories
  follow for everything else;
- finds ``node_modules/.bin/allure`` at the project root, or installs the pinned ``allure`` from
  ``package.json`` there on first use (``npm ci``/``npm install``). Without Node/npm it says so in one
  line and exits 2.
"""

from __future__ import annotations

import argparse
import fcntl
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import webbrowser
from collections.abc import Sequence
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ALLURE_PACKAGE = "allure@3.18.0"
SINGLE_FILE_NAME = "permiso-acceptance-report.html"
HISTORY_FILE_NAME = "history.jsonl"

EXIT_OK, EXIT_FAILED, EXIT_NO_TOOL = 0, 1, 2


class ReportError(Exception):
    """A one-line, user-facing reason the report could not be built (exit code attached)."""

    def __init__(self, message: str, exit_code: int = EXIT_FAILED) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def allure_binary(root: Path | None = None, *, install: bool = True) -> Path:
    """The local Allure 3 CLI, installing the pinned npm package under ``root`` on first use."""
    root = root or PROJECT_ROOT
    local = root / "node_modules" / ".bin" / "allure"
    if local.exists():
        return local
    if not install:
        raise ReportError(f"Allure CLI not found at {local}", EXIT_NO_TOOL)
    # Two builds at once on a fresh checkout (parallel test workers, two CI jobs) must not run `npm ci` in
    # the same folder together: one would generate with a half-installed CLI (seen: an ESM loader error).
    # The lock is the project folder itself (flock on its descriptor): nothing to create or leave behind.
    folder = os.open(root, os.O_RDONLY)
    try:
        fcntl.flock(folder, fcntl.LOCK_EX)
        if local.exists():  # another process installed it while this one waited
            return local
        return _install_allure(root, local)
    finally:
        os.close(folder)  # releases the lock


def _install_allure(root: Path, local: Path) -> Path:
    """Install the pinned Allure 3 CLI under ``root`` (called with the install lock held)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        raise ReportError(
            "permiso-acceptance report needs Node.js 18+ and npm (the Allure 3 CLI is an npm package); "
            "install them, e.g. `apt-get install -y nodejs npm`, and run it again",
            EXIT_NO_TOOL,
        )
    has_lock = (root / "package-lock.json").exists() and (root / "package.json").exists()
    cmd = ["npm", "ci"] if has_lock else ["npm", "install", "--no-save", ALLURE_PACKAGE]
    cmd += ["--no-audit", "--no-fund", "--loglevel=error"]
    print(f"Installing the Allure 3 CLI locally ({' '.join(cmd)}) ...", file=sys.stderr)
    proc = subprocess.run(cmd, cwd=root, capture_output=True, text=True, check=False)
    if proc.returncode != 0 or not local.exists():
        last = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        raise ReportError(f"installing {ALLURE_PACKAGE} with npm failed: {last[0]}", EXIT_NO_TOOL)
    return local


def cause_categories(summary: dict | None) -> list[str]:
    """Allure 3 category rules (JavaScript object literals) for the causes of a sign-off summary, most
    affected first. Each matches the results whose ``cause`` label is that cause (Allure 3 matchers may be
    predicates over ``{status, labels, message, ...}``); a precondition also matches by its message."""
    rules: list[str] = []
    for n, cause in enumerate((summary or {}).get("causes") or [], start=1):
        text = str(cause.get("cause") or "")
        if not text:
            continue
        kind = str(cause.get("kind") or "scenario")
        defect = f" [{cause['defect']}]" if cause.get("defect") else ""
        count = int(cause.get("count") or len(cause.get("scenarios") or []) or 0)
        what = "answers" if kind == "rule" else "scenarios"
        name = f"{kind}{defect}: {text} ({count} {what})"
        if cause.get("waiver"):  # the baseline and waivers (support/lifecycle/signoff.py) lead the name
            name = f"{cause.get('waiver_state')} by waiver {cause['waiver']} · {name}"
        if cause.get("change") == "new":
            name = f"NEW · {name}"
        value = json.dumps(text)
        test = f'd.labels.some((l) => l.name === "cause" && l.value === {value})'
        if kind == "precondition":
            test += f' || (d.message ?? "").includes({value}.replace(/^could not prepare: /, ""))'
        rules.append(
            f'{{ id: {json.dumps(f"cause-{n}")}, name: {json.dumps(name)}, '
            f'matchers: [(d) => ["failed", "broken"].includes(d.status) && ({test})], '
            'groupBy: ["severity"], expand: ' + ("true" if n <= 3 else "false") + " }"
        )
    return rules


def read_summary(path: Path | None) -> dict | None:
    """The run's ``signoff-summary.json``, or None when absent or unreadable."""
    if path is None or not Path(path).is_file():
        return None
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def config_module_text(
    base_config: Path, output: Path, history_file: Path | None, *, multi: bool, single: bool,
    categories: Sequence[str] = (),
) -> str:
    """An ES module importing ``allurerc.mjs`` that sets output, history and the report plugins.

    Two plugins (multi + single) put their reports in ``output/awesome`` and ``output/single``;
    one plugin writes straight into ``output``. ``categories`` (see :func:`cause_categories`) come
    before the base config's own category rules.
    """
    plugins = []
    if multi:
        plugins.append('awesome: { options: { ...awesomeOptions, singleFile: false } }')
    if single:
        plugins.append(
            'single: { import: "@allurereport/plugin-awesome", '
            "options: { ...awesomeOptions, singleFile: true } }"
        )
    history = f"historyPath: {json.dumps(str(history_file))}," if history_file else "historyPath: undefined,"
    cats = ""
    if categories:
        rules = ",\n    ".join(categories)
        cats = (f"  categories: {{ rules: [\n    {rules},\n"
                "    ...(base.categories?.rules ?? (Array.isArray(base.categories) ? base.categories : [])),\n  ] },\n")
    return (
        f"import base from {json.dumps(base_config.as_uri())};\n"
        "const awesomeOptions = base.plugins?.awesome?.options ?? {};\n"
        "export default {\n"
        "  ...base,\n"
        f"  output: {json.dumps(str(output))},\n"
        f"  {history}\n"
        f"{cats}"
        f"  plugins: {{ {', '.join(plugins)} }},\n"
        "};\n"
    )


def build_report(
    results: Path,
    output: Path,
    *,
    history_dir: Path | None = None,
    multi_file: bool = True,
    single_file: bool = True,
    root: Path | None = None,
    allure: Path | None = None,
    summary: Path | None = None,
) -> dict[str, Path]:
    """Build the report(s); returns ``{"multi": <dir with index.html>, "single": <html file>}`` (as built).

    One Allure pass with two plugins, then the multi-file report is moved to the top of ``output``
    and the single file next to it, so ``output/index.html`` is the dashboard. ``summary`` is the run's
    ``signoff-summary.json``: its causes become the first categories.
    """
    root = root or PROJECT_ROOT
    results, output = Path(results).resolve(), Path(output).resolve()
    if not results.is_dir() or not any(results.glob("*-result.json")):
        raise ReportError(f"no Allure results in {results}: run behave first (it writes allure-results/)")
    allure = allure or allure_binary(root)
    base_config = root / "allurerc.mjs"
    history_file: Path | None = None
    if history_dir is not None:
        history_dir = Path(history_dir).resolve()
        history_dir.mkdir(parents=True, exist_ok=True)
        history_file = history_dir / HISTORY_FILE_NAME

    with tempfile.TemporaryDirectory(prefix="permiso-report-") as tmp:
        staging = Path(tmp) / "report"
        config = Path(tmp) / "allurerc.generated.mjs"
        config.write_text(
            config_module_text(base_config, staging, history_file, multi=multi_file, single=single_file,
                               categories=cause_categories(read_summary(summary))),
            encoding="utf-8",
        )
        proc = subprocess.run(
            [str(allure), "generate", "--config", str(config), "--cwd", str(root), str(results)],
            cwd=root,
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0:
            tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
            raise ReportError(f"allure generate failed ({proc.returncode}): {' | '.join(tail)}")

        built: dict[str, Path] = {}
        if output.exists():
            shutil.rmtree(output)
        output.mkdir(parents=True)
        # With one plugin Allure writes straight into the output; with two, into output/<plugin id>.
        both = multi_file and single_file
        if multi_file:
            for item in (staging / "awesome" if both else staging).iterdir():
                shutil.move(str(item), output / item.name)
            built["multi"] = output
        if single_file:
            target = output / SINGLE_FILE_NAME
            shutil.move(str((staging / "single" if both else staging) / "index.html"), target)
            built["single"] = target
    return built


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="permiso-acceptance report",
        description="Build the Allure 3 report (multi-file and a single HTML file) from allure-results/.",
    )
    p.add_argument("--results", type=Path, default=Path("allure-results"), help="Allure results folder")
    p.add_argument("--output", type=Path, default=Path("allure-report"), help="report folder (replaced)")
    p.add_argument(
        "--history-dir",
        type=Path,
        default=Path(".allure-history"),
        help="folder kept between runs for trends (holds history.jsonl)",
    )
    p.add_argument(
        "--single-file",
        action="store_true",
        help=f"build only the single-file report ({SINGLE_FILE_NAME}), e.g. for a release ticket",
    )
    p.add_argument(
        "--summary",
        type=Path,
        default=Path("reports") / "signoff-summary.json",
        help="the run's sign-off summary (JSON): one report category per cause of the run",
    )
    p.add_argument("--open", action="store_true", help="serve/open the report in a browser when built")
    return p


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``permiso-acceptance report``; returns the process exit code."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    started = time.monotonic()
    try:
        built = build_report(
            args.results,
            args.output,
            history_dir=args.history_dir,
            multi_file=not args.single_file,
            single_file=True,
            summary=args.summary,
        )
    except ReportError as exc:
        print(f"permiso-acceptance report: {exc}", file=sys.stderr)
        return exc.exit_code
    took = time.monotonic() - started
    if "multi" in built:
        print(f"Allure report: {built['multi'] / 'index.html'} (serve it: npx allure open {built['multi']})")
    print(f"Single-file report: {built['single']}")
    print(f"History: {Path(args.history_dir).resolve() / HISTORY_FILE_NAME} (built in {took:.1f} s)")
    if args.open:
        if "multi" in built:
            # `allure open` serves the folder on a local port and opens the browser; Ctrl-C stops it.
            return subprocess.call([str(allure_binary()), "open", str(built["multi"])], cwd=PROJECT_ROOT)
        webbrowser.open(built["single"].as_uri())
    return EXIT_OK


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
