"""Sign-off that knows what changed: a baseline of accepted causes and waivers that expire.

Why: a release meeting asks "what is new since the release we last shipped, and is everything else a
known, accepted risk?", not "what fails?". Two committed files answer it (paths are settings):

- **the baseline** (``signoff/baseline.json``, written by ``permiso-acceptance baseline accept`` from a
  run's ``reports/signoff-summary.json``): the causes of the last signed-off run, with its date, target
  and verdict. Every later run lists its causes as **new**, **persisting** or **fixed** against it. The
  baseline only informs: a persisting cause still blocks, because knowing a defect is not accepting it.
- **the waivers** (``signoff/waivers.toml``): accepted causes, each matched by defect id, run-wide rule
  or scenario title, with a reason, who accepted it and an expiry date. A cause a waiver covers is shown
  as accepted and does not block the verdict; an expired waiver blocks again and says so; a waiver that
  matches nothing is reported as stale. A waiver never covers a ``@critical`` scenario of the ``@auth``
  or ``@tokens`` domains unless it names that scenario: "D7 is accepted" must not silently accept a
  broken sign-in.

A cause is identified across runs by :func:`cause_key` (kind plus defect, rule id or scenario title),
never by its message, which carries ids and timings that change from run to run.

Bad files raise :class:`SignoffFileError` with one line naming the file and the problem; the run turns
that into a NOT RUN verdict and exit 2 before anything starts, like a bad setting. Nothing here imports
behave or touches the network.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BASELINE_VERSION = 1
#: domains whose @critical scenarios a waiver may cover only by naming them (summary_records.DOMAIN_TAGS names)
PROTECTED_DOMAINS: tuple[str, ...] = ("auth", "tokens")
_WAIVER_KEYS = frozenset({"id", "defect", "rule", "scenarios", "reason", "accepted_by", "expires"})
_ACCEPTED, _EXPIRED, _NOT_COVERED, _STALE = "accepted", "expired", "not covered", "stale"


class SignoffFileError(ValueError):
    """A baseline or waiver file the run cannot use; the message is one line naming the file."""


# ------------------------------------------------------------------------------------ cause identity
def cause_key(entry: Mapping[str, Any]) -> str:
    """A cause's identity across runs: ``rule:<rule id>``, ``precondition:D1``, ``scenario:D7``, or the
    kind with the scenario's own rule (its title) or the refused call; `` (error)`` marks suite errors."""
    kind = str(entry.get("kind") or "scenario")
    if kind == "rule":
        return f"rule:{entry.get('rule_id') or entry.get('rule')}"
    what = entry.get("defect") or entry.get("rule") or entry.get("cause") or ""
    return f"{kind}:{what}" + (" (error)" if entry.get("error") else "")


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


# ------------------------------------------------------------------------------------------ baseline
@dataclass(frozen=True)
class Baseline:
    """The causes of the last signed-off run (``signoff/baseline.json``)."""

    date: str
    target: str
    verdict: str
    causes: tuple[dict[str, Any], ...] = ()
    path: str = ""

    @property
    def keys(self) -> dict[str, dict[str, Any]]:
        return {str(c["key"]): c for c in self.causes}

    def as_dict(self) -> dict[str, Any]:
        return {"version": BASELINE_VERSION, "date": self.date, "target": self.target, "verdict": self.verdict,
                "causes": [dict(c) for c in self.causes]}


def baseline_from_summary(summary: Mapping[str, Any], today: dt.date) -> Baseline:
    """The baseline a run's ``signoff-summary.json`` makes; only a run that checked something completely
    may become one (a NOT RUN or INTERRUPTED run would hide every cause it never reached)."""
    verdict = str(summary.get("verdict") or "")
    if summary.get("not_run") or verdict.startswith("NOT RUN"):
        raise SignoffFileError(f"the run checked nothing ({verdict}): a baseline must come from a complete run")
    if summary.get("interrupted") or verdict.startswith("INTERRUPTED"):
        raise SignoffFileError(f"the run was interrupted ({verdict}): a baseline must come from a complete run")
    causes = []
    for entry in summary.get("causes") or []:
        causes.append({"key": entry.get("key") or cause_key(entry), "kind": entry.get("kind"),
                       "cause": entry.get("cause"), "defect": entry.get("defect"), "rule": entry.get("rule"),
                       "count": entry.get("count", 0)})
    return Baseline(date=today.isoformat(), target=str(summary.get("target") or "unknown target"),
                    verdict=verdict, causes=tuple(causes))


def write_baseline(baseline: Baseline, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(baseline.as_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


def load_baseline(path: Path | None) -> Baseline | None:
    """The baseline at ``path``; None when there is no such file (no release was signed off yet)."""
    if path is None or not Path(path).exists():
        return None
    where = str(path)
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SignoffFileError(f"baseline {where}: not readable JSON ({str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict) or not isinstance(data.get("causes"), list):
        raise SignoffFileError(f"baseline {where}: expected an object with a 'causes' list; "
                               "write it with `permiso-acceptance baseline accept`")
    date = data.get("date")
    try:
        dt.date.fromisoformat(str(date))
    except ValueError:
        raise SignoffFileError(f"baseline {where}: date {date!r} is not YYYY-MM-DD") from None
    for n, cause in enumerate(data["causes"], start=1):
        if not isinstance(cause, dict) or not cause.get("key"):
            raise SignoffFileError(f"baseline {where}: cause {n} has no 'key'")
    return Baseline(date=str(date), target=str(data.get("target") or ""), verdict=str(data.get("verdict") or ""),
                    causes=tuple(data["causes"]), path=where)


# ------------------------------------------------------------------------------------------- waivers
@dataclass(frozen=True)
class Waiver:
    """One accepted cause: matched by ``defect``, ``rule`` (a run-wide rule id or name) or ``scenarios``
    (titles, "Feature › Scenario" or the scenario name alone), with who accepted it, why, and until when."""

    id: str
    reason: str
    accepted_by: str
    expires: dt.date
    defect: str | None = None
    rule: str | None = None
    scenarios: tuple[str, ...] = ()

    def expired(self, today: dt.date) -> bool:
        return today > self.expires

    def names(self, title: str) -> bool:
        """Whether the waiver names this scenario (full title or the scenario part after " › ")."""
        return title in self.scenarios or title.split(" › ", 1)[-1] in self.scenarios

    def matches(self, entry: Mapping[str, Any]) -> bool:
        """Whether the waiver is about this cause (whether it may cover all of it is :func:`evaluate`'s)."""
        if self.defect:
            return entry.get("defect") == self.defect
        if self.rule:
            return entry.get("kind") == "rule" and self.rule in (entry.get("rule_id"), entry.get("rule"))
        titles = list(entry.get("scenarios") or [])
        return bool(titles) and any(self.names(t) for t in titles)

    def describe(self) -> str:
        what = self.defect or self.rule or "; ".join(self.scenarios)
        return f"{self.id} ({what}, accepted by {self.accepted_by}, until {self.expires.isoformat()})"


def _parse_date(value: Any, where: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise SignoffFileError(f"{where}: expires {value!r} is not a date (write YYYY-MM-DD)") from None


def parse_waivers(data: Mapping[str, Any], where: str, *, known_defects: Iterable[str],
                  known_rules: Iterable[str]) -> list[Waiver]:
    """Waivers from the parsed TOML (``[[waiver]]`` tables); every problem is one :class:`SignoffFileError`."""
    extra = set(data) - {"waiver"}
    if extra:
        raise SignoffFileError(f"{where}: unknown table {sorted(extra)[0]!r} (waivers are [[waiver]] tables)")
    tables = data.get("waiver", [])
    if not isinstance(tables, list):
        raise SignoffFileError(f"{where}: 'waiver' must be an array of tables, written [[waiver]]")
    defects, rules = set(known_defects), set(known_rules)
    waivers: list[Waiver] = []
    seen: set[str] = set()
    for n, table in enumerate(tables, start=1):
        here = f"{where}: waiver {n}"
        if not isinstance(table, dict):
            raise SignoffFileError(f"{here}: must be a table")
        if table.get("id"):
            here = f"{where}: waiver {table['id']!r}"
        unknown = sorted(set(table) - _WAIVER_KEYS)
        if unknown:
            raise SignoffFileError(f"{here}: unknown key {unknown[0]!r} (known: {', '.join(sorted(_WAIVER_KEYS))})")
        for key in ("reason", "accepted_by", "expires"):
            if table.get(key) in (None, ""):
                raise SignoffFileError(f"{here}: missing {key!r}; every waiver says why, who accepted it "
                                       "and when it expires")
        defect, rule = table.get("defect"), table.get("rule")
        scenarios = table.get("scenarios", [])
        if isinstance(scenarios, str):
            scenarios = [scenarios]
        if not isinstance(scenarios, list) or not all(isinstance(s, str) and s for s in scenarios):
            raise SignoffFileError(f"{here}: 'scenarios' must be a list of scenario titles")
        if sum(bool(x) for x in (defect, rule)) > 1:
            raise SignoffFileError(f"{here}: give either 'defect' or 'rule', not both")
        if not (defect or rule or scenarios):
            raise SignoffFileError(f"{here}: says nothing to accept; give 'defect', 'rule' or 'scenarios'")
        if defect and defect not in defects:
            raise SignoffFileError(f"{here}: unknown defect id {defect!r} (known: {', '.join(sorted(defects))})")
        if rule and rule not in rules:
            raise SignoffFileError(f"{here}: unknown run-wide rule {rule!r}")
        waiver_id = str(table.get("id") or defect or rule or f"waiver-{n}")
        if waiver_id in seen:
            raise SignoffFileError(f"{where}: two waivers are called {waiver_id!r}")
        seen.add(waiver_id)
        waivers.append(Waiver(id=waiver_id, reason=str(table["reason"]), accepted_by=str(table["accepted_by"]),
                              expires=_parse_date(table["expires"], here), defect=defect, rule=rule,
                              scenarios=tuple(scenarios)))
    return waivers


def load_waivers(path: Path | None, *, known_defects: Iterable[str], known_rules: Iterable[str]) -> list[Waiver]:
    """The waivers at ``path``; none when there is no such file."""
    if path is None or not Path(path).exists():
        return []
    try:
        data = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise SignoffFileError(f"waivers {path}: not valid TOML ({exc})") from None
    return parse_waivers(data, f"waivers {path}", known_defects=known_defects, known_rules=known_rules)


# ---------------------------------------------------------------------------------------- the policy
@dataclass(frozen=True)
class Policy:
    """What a run is judged against besides the contract: the baseline (or None) and the waivers."""

    baseline: Baseline | None = None
    waivers: tuple[Waiver, ...] = ()
    today: dt.date = field(default_factory=lambda: dt.datetime.now(dt.UTC).date())

    @property
    def empty(self) -> bool:
        return self.baseline is None and not self.waivers


def load_policy(baseline_path: Path | None, waivers_path: Path | None, *, today: dt.date | None = None) -> Policy:
    """Both files, validated against the known defect ids and run-wide rules."""
    from support.checks.causes import DEFECTS
    from support.domains.hygiene_rules import RULES

    rules = [r.id for r in RULES] + [r.text for r in RULES]
    return Policy(baseline=load_baseline(baseline_path),
                  waivers=tuple(load_waivers(waivers_path, known_defects=DEFECTS, known_rules=rules)),
                  today=today or dt.datetime.now(dt.UTC).date())


def policy_for(settings: Any) -> Policy:
    """The policy the settings point at (PERMISO_SIGNOFF_BASELINE, PERMISO_SIGNOFF_WAIVERS)."""
    return load_policy(settings.permiso_signoff_baseline, settings.permiso_signoff_waivers)


@dataclass
class Judgement:
    """The run's causes judged against a :class:`Policy` (see :func:`evaluate`)."""

    causes: list[dict[str, Any]]
    baseline: Baseline | None
    fixed: list[dict[str, Any]]
    waivers: list[dict[str, Any]]

    def with_change(self, change: str) -> list[dict[str, Any]]:
        return [c for c in self.causes if c.get("change") == change]

    @property
    def new(self) -> list[dict[str, Any]]:
        return self.with_change("new")

    @property
    def persisting(self) -> list[dict[str, Any]]:
        return self.with_change("persisting")

    @property
    def accepted_scenarios(self) -> set[str]:
        """Failed scenarios every cause of which a valid waiver accepts (a fuzz scenario may have several)."""
        states: dict[str, bool] = {}
        for cause in self.causes:
            for title in cause.get("scenarios") or []:
                states[title] = states.get(title, True) and cause.get("waiver_state") == _ACCEPTED
        return {title for title, accepted in states.items() if accepted}

    @property
    def accepted_rules(self) -> set[str]:
        return {str(c.get("rule_id")) for c in self.causes
                if c.get("waiver_state") == _ACCEPTED and c.get("kind") == "rule"}

    def waivers_in(self, state: str) -> list[dict[str, Any]]:
        return [w for w in self.waivers if w["state"] == state]

    def blocking_notes(self) -> list[str]:
        """Verdict reasons the waivers add: expired waivers, and waivers that may not cover a scenario."""
        notes = [f"waiver {w['id']} expired (it held until {w['expires']})" for w in self.waivers_in(_EXPIRED)
                 if w["blocking"]]
        for w in self.waivers_in(_NOT_COVERED):
            if not w["blocking"]:
                continue
            notes.append(f"waiver {w['id']} does not name {_plural(len(w['unnamed']), 'scenario')} it would cover")
        return notes

    def new_text(self) -> str:
        assert self.baseline is not None
        return f"{_plural(len(self.new), 'new cause')} since the baseline of {self.baseline.date}"

    def to_json(self) -> dict[str, Any]:
        base = None if self.baseline is None else {
            "date": self.baseline.date, "target": self.baseline.target, "verdict": self.baseline.verdict,
            "path": self.baseline.path}
        return {"baseline": base,
                "new": [c["key"] for c in self.new], "persisting": [c["key"] for c in self.persisting],
                "fixed": [dict(c) for c in self.fixed], "waivers": [dict(w) for w in self.waivers]}


def evaluate(causes: Sequence[Mapping[str, Any]], policy: Policy,
             protected: Mapping[str, bool] | None = None) -> Judgement:
    """Annotate each cause with ``key``, ``change`` (new / persisting, None without a baseline) and, when
    a waiver is about it, ``waiver``/``waiver_state`` (accepted, expired, not covered); list the fixed
    baseline causes and every waiver's state (stale when it matched nothing).

    ``protected`` maps a scenario title to True when it is a ``@critical`` scenario of a protected domain:
    a waiver covers such a scenario only by naming it.
    """
    protected = protected or {}
    base = policy.baseline.keys if policy.baseline is not None else {}
    judged: list[dict[str, Any]] = []
    hits: dict[str, list[dict[str, Any]]] = {w.id: [] for w in policy.waivers}
    unnamed_by: dict[str, list[str]] = {w.id: [] for w in policy.waivers}
    for entry in causes:
        cause = dict(entry)
        cause["key"] = cause_key(cause)
        cause["change"] = None if policy.baseline is None else ("persisting" if cause["key"] in base else "new")
        cause["waiver"] = cause["waiver_state"] = None
        for waiver in policy.waivers:
            if not waiver.matches(cause):
                continue
            titles = list(cause.get("scenarios") or [])
            unnamed = [t for t in titles if (protected.get(t) or not (waiver.defect or waiver.rule))
                       and not waiver.names(t)]
            if waiver.expired(policy.today):
                state = _EXPIRED
            elif unnamed:
                state = _NOT_COVERED
                unnamed_by[waiver.id] += [t for t in unnamed if t not in unnamed_by[waiver.id]]
            else:
                state = _ACCEPTED
            hits[waiver.id].append(cause)
            if cause["waiver_state"] != _ACCEPTED:  # the first waiver that accepts the cause wins
                cause["waiver"], cause["waiver_state"] = waiver.id, state
        judged.append(cause)
    now = {c["key"] for c in judged}
    fixed = [dict(c) for key, c in base.items() if key not in now]
    waivers = []
    for waiver in policy.waivers:
        matched = hits[waiver.id]
        # an expired or too-broad waiver blocks only where no other waiver accepts what it matches
        open_causes = [c for c in matched if c["waiver_state"] != _ACCEPTED]
        if not matched:
            state = _STALE
        elif waiver.expired(policy.today):
            state = _EXPIRED
        elif unnamed_by[waiver.id]:
            state = _NOT_COVERED
        else:
            state = _ACCEPTED
        waivers.append({"id": waiver.id, "state": state, "defect": waiver.defect, "rule": waiver.rule,
                        "scenarios": list(waiver.scenarios), "reason": waiver.reason,
                        "accepted_by": waiver.accepted_by, "expires": waiver.expires.isoformat(),
                        "causes": [c["key"] for c in matched], "unnamed": unnamed_by[waiver.id],
                        "blocking": state in (_EXPIRED, _NOT_COVERED) and bool(open_causes),
                        "describe": waiver.describe()})
    return Judgement(causes=judged, baseline=policy.baseline, fixed=fixed, waivers=waivers)


def markdown_sections(judgement: Judgement, md: Any = str) -> list[str]:
    """The summary's "Since the baseline" and "Waivers" sections (``md`` escapes Markdown text)."""
    lines: list[str] = []
    if judgement.baseline is not None:
        b = judgement.baseline
        lines += [f"## Since the baseline of {b.date} ({md(b.target)}; {md(b.verdict)})", ""]
        for title, items in (("New", judgement.new), ("Persisting", judgement.persisting),
                             ("Fixed", judgement.fixed)):
            lines.append(f"**{title}** ({len(items)})" + (":" if items else ""))
            lines += [f"- {md(str(c.get('cause') or c['key']))} `{md(c['key'])}`" for c in items]
            lines.append("")
    if judgement.waivers:
        lines += ["## Waivers", ""]
        for w in judgement.waivers:
            state = w["state"]
            detail = {
                _ACCEPTED: f"accepts {_plural(len(w['causes']), 'cause')}",
                _EXPIRED: f"EXPIRED (it held until {w['expires']}): {_plural(len(w['causes']), 'cause')} it "
                          "matches block again",
                _NOT_COVERED: "covers only the scenarios it names (a @critical auth/tokens scenario, or "
                              "any scenario of a waiver by scenarios); not named: " + "; ".join(w["unnamed"][:3]),
                _STALE: "STALE: matches no cause of this run; remove it or check its spelling",
            }[state]
            lines.append(f"- **{state}** {md(w['describe'])}: {md(detail)}. Reason: {md(w['reason'])}")
        lines.append("")
    return lines
