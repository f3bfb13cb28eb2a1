"""Generated-input robustness: Schemathesis generates requests for every documented operation.

Why: the hostile inputs of ``features/security/input_handling.feature`` are hand-written and aimed at a
few places; each crash they found was found because someone thought of it. Here Schemathesis (pinned in
pyproject.toml, used through its Python API) reads Permiso's own description of its API and generates
requests for every operation; Hypothesis shrinks each failure to a minimal request. What is judged and
how findings are kept is :mod:`support.domains.fuzz_findings`.

Choices (docs/fuzzing.md):

- **Schema**: the target's ``/openapi.json``; a deployment that hides it (as production should) is
  fuzzed from the copy kept with the suite, ``support/data/permiso-openapi.json``
  (``permiso-reference openapi --output support/data/permiso-openapi.json`` refreshes it).
- **Data**: invalid (negative) data for every operation; valid (positive) data only for reads, i.e.
  ``GET`` and the operations that only check a credential (:data:`CHECKS_ONLY`), so the fuzzer creates
  nothing it must not. A hostile dictionary (the suite's own :data:`support.domains.security_checks.PAYLOADS`
  plus huge numbers) is bound to every parameter and body field through Schemathesis' dictionaries.
- **Callers**: the administrator (its token only), a throwaway regular user, a visitor; Hypothesis
  draws the caller with the request, so a finding names who sent it. Operations that end the caller's
  own session or token, or change the caller's own account (:data:`OWN_ACCOUNT`), never run as the
  administrator. A request naming a configured account (or the throwaway) is never sent.
- **Safety**: anything a success created is tracked for cleanup (:func:`track_created`); calls are
  paced at :data:`FUZZ_RATE` per second unless the target is on this machine; the budget is
  ``PERMISO_FUZZ_EXAMPLES`` per operation and kind of data and ``PERMISO_FUZZ_SECONDS`` per scenario;
  the seed (``PERMISO_FUZZ_SEED``) is printed and replays a run.
"""

from __future__ import annotations

import ipaddress
import json
import secrets
import sys
import time
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from support.domains.fuzz_findings import BOOK, FindingBook, classify
from support.domains.security_checks import PAYLOADS
from support.wire.client import PermisoClient
from support.wire.evidence import Exchange
from support.wire.pacing import AuthPacer
from support.wire.settings import Settings
from support.wire.transport import AUTH_PATH_PREFIX

#: The schema copy kept with the suite (used when the target hides its own).
SNAPSHOT = Path(__file__).resolve().parents[1] / "data" / "permiso-openapi.json"
#: Calls per second against a target that is not on this machine (under the front's 10 r/s API limit).
FUZZ_RATE = 8.0
#: Chance that a parameter or body field takes a value of the hostile dictionary instead of a generated one:
#: high, so that a handful of examples per operation meets each value (the rest stays Schemathesis' own).
DICTIONARY_PROBABILITY = 0.5
#: The hostile dictionary: names of :data:`support.domains.security_checks.PAYLOADS` (the suite's catalogue), the
#: values that crashed the release first (a NUL byte, an over-long text), then a huge number as text (a
#: query sends it as such; the page number 10^30 of the contract's D33).
HOSTILE_PAYLOADS = ("null byte", "over-long (300 characters)", "SQL tautology")
HOSTILE_NUMBERS = ("1000000000000000000000000000000",)
#: What the product owner reads (the feature's Examples) -> the router's path under the API base.
AREAS: dict[str, str] = {
    "sign-in and tokens": "/auth",
    "the user administration": "/users",
    "roles and permissions": "/roles",
    "service clients": "/service-clients",
    "sessions": "/sessions",
    "the admin console": "/admin",
    "the service status": "",
}
#: POST operations that only check a credential or a permission: with made-up values they create nothing.
CHECKS_ONLY = frozenset({("POST", "/auth/token"), ("POST", "/auth/service-token"), ("POST", "/auth/refresh"),
                         ("POST", "/auth/introspect"), ("POST", "/roles/permissions/check"),
                         ("POST", "/roles/permissions/check-bulk")})
#: Operations that end the caller's own session or token, or change the caller's own account.
OWN_ACCOUNT = frozenset({("POST", "/auth/logout"), ("POST", "/auth/revoke"), ("DELETE", "/sessions/"),
                         ("DELETE", "/sessions/{session_id}"), ("POST", "/sessions/{session_id}/renew"),
                         ("PUT", "/users/me"), ("PUT", "/users/{user_id}/password")})
ADMIN, USER, VISITOR = "the administrator", "a regular user", "a visitor"


class SchemaUnavailable(AssertionError):
    """Neither the target nor the suite's copy gave a usable API description."""


# ---------------------------------------------------------------------------------------- schema
def read_snapshot(path: Path = SNAPSHOT) -> dict[str, Any]:
    """The suite's copy of the API description."""
    return json.loads(path.read_text(encoding="utf-8"))


def load_spec(client: PermisoClient, snapshot: Path = SNAPSHOT) -> tuple[dict[str, Any], str]:
    """The target's ``/openapi.json`` when it serves one, else the suite's copy; with where it came from."""
    answer = client.openapi()
    body = answer.body
    if answer.status == 200 and isinstance(body, dict) and isinstance(body.get("paths"), dict):
        return body, "the target's /openapi.json"
    if not snapshot.is_file():
        raise SchemaUnavailable(f"the target hides its API description (HTTP {answer.status}) and the suite's "
                                f"copy {snapshot.name} is missing (docs/fuzzing.md says how to refresh it)")
    return read_snapshot(snapshot), f"the suite's copy ({snapshot.name}; the target answered {answer.status})"


def hostile_values() -> list[str]:
    """The dictionary mixed into generated data: a few of the suite's hostile texts and a huge number.

    Few on purpose: each entry's chance per field is the probability divided by their number, and the
    budget is a handful of examples per operation (the full catalogue stays with input_handling.feature).
    """
    return [PAYLOADS[name] for name in HOSTILE_PAYLOADS] + list(HOSTILE_NUMBERS)


def parameter_names(spec: dict[str, Any]) -> set[str]:
    """``query.x``/``path.x``/``body.x`` keys for every parameter and top-level body field of the schema."""
    schemas = spec.get("components", {}).get("schemas", {})
    keys: set[str] = set()
    for item in spec.get("paths", {}).values():
        for operation in item.values():
            if not isinstance(operation, dict):
                continue
            for parameter in operation.get("parameters", []):
                if parameter.get("in") in ("query", "path") and str(parameter.get("name", "")).isidentifier():
                    keys.add(f"{parameter['in']}.{parameter['name']}")
            for media in operation.get("requestBody", {}).get("content", {}).values():
                body = media.get("schema", {})
                if "$ref" in body:
                    body = schemas.get(body["$ref"].rsplit("/", 1)[-1], {})
                keys.update(f"body.{name}" for name in body.get("properties", {}) if name.isidentifier())
    return keys


def load_schema(spec: dict[str, Any]) -> Any:
    """A Schemathesis schema with the hostile dictionary bound to every field (no config file read)."""
    import schemathesis

    binding = {"dictionary": "hostile", "probability": DICTIONARY_PROBABILITY}
    config = schemathesis.Config.from_dict({
        "dictionaries": {"hostile": {"values": hostile_values()}},
        "parameters": {key: dict(binding) for key in sorted(parameter_names(spec))},
    })
    return schemathesis.openapi.from_dict(spec, config=config)


def operations_of(schema: Any, area: str, api_base: str) -> list[Any]:
    """The schema's operations of one area (:data:`AREAS`), in the schema's order."""
    if area not in AREAS:
        raise AssertionError(f"unknown area {area!r}; known: {', '.join(AREAS)}")
    prefix = api_base + AREAS[area] if AREAS[area] else None
    found = []
    for result in schema.get_all_operations():
        operation = result.ok()
        path = operation.path
        inside = path.startswith(api_base + "/") or path == api_base
        if (prefix is None and not inside) or (prefix is not None and (path == prefix or
                                                                      path.startswith(prefix + "/"))):
            found.append(operation)
    return found


# ---------------------------------------------------------------------------------------- policy
@dataclass(frozen=True)
class Plan:
    """What the fuzzer does with one operation: which kinds of data, which callers."""

    label: str
    modes: tuple[str, ...]
    callers: tuple[str, ...]


def plan_for(method: str, path: str, api_base: str) -> Plan:
    """Invalid data always; valid data only for reads; never the administrator on its own account."""
    relative = path[len(api_base):] if path.startswith(api_base + "/") else path
    key = (method.upper(), relative)
    read = method.upper() in ("GET", "HEAD") or key in CHECKS_ONLY
    callers = (USER, VISITOR) if key in OWN_ACCOUNT else (ADMIN, USER, VISITOR)
    return Plan(f"{method.upper()} {path}", ("negative", "positive") if read else ("negative",), callers)


def encoded_body(kwargs: dict[str, Any], headers: dict[str, str]) -> str | bytes | None:
    """The generated body as the text that goes on the wire.

    Sent as text rather than as a mapping, so the client does not register every generated "password"
    as a secret of the run (thousands of junk literals would slow every later redaction); the evidence
    still masks password fields by their names, as it masks any request's.
    """
    if kwargs.get("json") is not None:
        headers.setdefault("Content-Type", "application/json")
        return json.dumps(kwargs["json"])
    data = kwargs.get("data")
    if isinstance(data, dict | list):
        return requests.models.RequestEncodingMixin._encode_params(data)  # as requests would encode it
    return data


def hostile_hint(case: Any) -> str:
    """``username: null byte``: which fields of the case took which value of the hostile dictionary."""
    names = {value: name for name, value in PAYLOADS.items()}
    draws = getattr(getattr(case, "meta", None), "dictionary_draws", ()) or ()
    return ", ".join(f"{d.parameter_name}: {names.get(str(d.value), 'a huge number')}" for d in draws)


def is_loopback(url: str) -> bool:
    """True for a target on this machine (``localhost``, ``127.0.0.0/8``, ``::1``): no pacing needed."""
    host = (urlsplit(url).hostname or "").lower()
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def strings_in(value: Any) -> Iterator[str]:
    """Every string (keys included) inside a generated value."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield str(key)
            yield from strings_in(inner)
    elif isinstance(value, list | tuple):
        for inner in value:
            yield from strings_in(inner)


def names_protected(case: Any, protected: set[str]) -> bool:
    """True when the request names a configured account or the throwaway (it is then never sent)."""
    values = (case.path_parameters, case.query, case.body if isinstance(case.body, dict | list | str) else None)
    return any(text.strip().lower() in protected for value in values for text in strings_in(value))


def track_created(identities: Any, exchange: Exchange, api_base: str) -> None:
    """A success to a POST that created something (it carries an id) is tracked for cleanup."""
    if exchange.method != "POST" or not 200 <= exchange.status < 300:
        return
    body = exchange.json()
    if not isinstance(body, dict):
        return
    path = urlsplit(exchange.url).path.removeprefix(api_base)
    client = body.get("client") if isinstance(body.get("client"), dict) else body
    if path.startswith("/service-clients") and client.get("client_id"):
        identities.track_client(str(client["client_id"]))
    elif path.startswith("/roles/scopes") and body.get("id"):
        identities.track_scope(str(body["id"]), str(body.get("name", "")))
    elif path.startswith("/roles") and body.get("id") and "name" in body:
        identities.track_role(str(body["id"]), str(body.get("name", "")))
    elif path.startswith("/users") and body.get("id") and "username" in body:
        identities.track_user(str(body["id"]), str(body["username"]))


def _response(exchange: Exchange) -> Any:
    """The answer as Schemathesis' own Response (its checks read that, not the suite's Exchange)."""
    from schemathesis import Response

    return Response(status_code=exchange.status, content=exchange.response_text.encode("utf-8"),
                   headers={str(k).lower(): [str(v)] for k, v in exchange.response_headers.items()},
                   request=requests.Request(exchange.method, exchange.url).prepare(),
                   elapsed=exchange.elapsed_ms / 1000, verify=False, encoding="utf-8")


def rejects_negative(case: Any, exchange: Exchange) -> bool:
    """True when a success to this invalid case is a finding by Schemathesis' own rule (its
    ``negative_data_rejection`` check): it knows when a negation cannot survive serialisation or only
    adds a parameter a server may ignore (``?=true``), which is not invalid data the server must refuse."""
    if not 200 <= exchange.status < 300:
        return True
    from schemathesis.specs.openapi.checks import negative_data_rejection

    try:
        case.validate_response(_response(exchange), checks=[negative_data_rejection])
    except Exception:
        return True
    return False


def schema_problem(operation: Any, exchange: Exchange) -> str | None:
    """What Schemathesis finds wrong with a success body against the operation's documented schema."""
    try:
        operation.validate_response(_response(exchange))
    except Exception as exc:  # Schemathesis' FailureGroup or an AssertionError
        text = " ".join(str(exc).split())
        return text[:300] or type(exc).__name__
    return None


# ---------------------------------------------------------------------------------------- running
@dataclass
class OperationReport:
    """What fuzzing one operation did (for the scenario's statistics note)."""

    label: str
    calls: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    skipped: str = ""
    out_of_time: bool = False


@dataclass
class Fuzzer:
    """Sends generated requests as the callers and records what they break (one per scenario)."""

    settings: Settings
    callers: dict[str, PermisoClient]
    identities: Any
    protected: set[str]
    seed: int
    scenario: str = ""
    book: FindingBook = field(default_factory=lambda: BOOK)
    paced_auth: bool = False
    pacer: AuthPacer | None = None
    rate: float = 0.0
    debug: bool = False

    def send(self, operation: Any, caller: str, case: Any) -> Exchange:
        """One generated request as ``caller``, through the suite's client (redaction, watch, retries)."""
        client = self.callers[caller]
        kwargs = case.as_transport_kwargs(base_url=client.base_url)
        headers = {k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() == "content-type"}
        relative = urlsplit(kwargs["url"]).path.removeprefix(self.settings.permiso_api_base)
        if self.pacer is not None:
            self.pacer.wait(self.rate)
        answer = client.request(kwargs["method"], kwargs["url"], data=encoded_body(kwargs, headers),
                                params=kwargs.get("params") or None, headers=headers, api=False,
                                paced=self.paced_auth and relative.startswith(AUTH_PATH_PREFIX))
        return answer.exchange

    def run(self, operation: Any, plan: Plan, examples: int, deadline: float) -> OperationReport:
        """Fuzz one operation with each kind of data of its plan until the examples or the time run out."""
        report = OperationReport(plan.label)
        for mode in plan.modes:
            self._run_mode(operation, plan, mode, examples, deadline, report)
        return report

    def _run_mode(self, operation: Any, plan: Plan, mode: str, examples: int, deadline: float,
                  report: OperationReport) -> None:
        from hypothesis import HealthCheck, Phase, Verbosity, given, reject, seed, settings
        from hypothesis import strategies as st
        from schemathesis import GenerationMode

        documented = [str(code) for code in operation.definition.raw.get("responses", {})]
        strategy = st.tuples(st.sampled_from(plan.callers), operation.as_strategy(generation_mode=GenerationMode(mode)))

        def probe(drawn: tuple[str, Any]) -> None:
            if time.monotonic() > deadline:
                report.out_of_time = True
                return
            caller, case = drawn
            if names_protected(case, self.protected):
                reject()
            exchange = self.send(operation, caller, case)
            report.calls += 1
            report.statuses[exchange.status] += 1
            self.book.note_status(plan.label, exchange.status, documented)
            track_created(self.identities, exchange, self.settings.permiso_api_base)
            found = classify(exchange, negative=mode == "negative" and rejects_negative(case, exchange),
                             schema_problem=lambda: schema_problem(operation, exchange))
            for check, detail in found:
                self.book.record(plan.label, check, detail, exchange, caller, self.scenario, hostile_hint(case))
            if found:  # one exception type per check: Hypothesis shrinks each separately
                raise _failure(found[0][0])

        test = settings(max_examples=examples, database=None, deadline=None, derandomize=False,
                        suppress_health_check=list(HealthCheck), phases=(Phase.generate, Phase.shrink),
                        report_multiple_bugs=True, verbosity=Verbosity.quiet, print_blob=False,
                        )(seed(self.seed_for(plan.label, mode))(given(drawn=strategy)(probe)))
        try:
            test()
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # the findings are in the book; Hypothesis' verdict adds nothing
            if self.debug:
                import traceback

                traceback.print_exception(exc)
            if _is_unsatisfiable(exc) and report.calls == 0:
                report.skipped = report.skipped or _nothing_to_send(mode)

    def seed_for(self, label: str, mode: str) -> int:
        """One seed per operation and kind of data, derived from the run's seed (replayable)."""
        return zlib.crc32(f"{self.seed}:{label}:{mode}".encode())


_FAILURES: dict[str, type[Exception]] = {}


def _failure(check: str) -> Exception:
    if check not in _FAILURES:
        _FAILURES[check] = type(f"Fuzz_{check}", (Exception,), {})
    return _FAILURES[check](check)


def _is_unsatisfiable(exc: BaseException) -> bool:
    from hypothesis.errors import FailedHealthCheck, Unsatisfiable

    return isinstance(exc, Unsatisfiable | FailedHealthCheck) or "Unsatisfiable" in type(exc).__name__


def _nothing_to_send(mode: str) -> str:
    if mode == "negative":
        return "nothing in it can be made invalid, and it is not a read"
    return "no request could be generated"


def new_seed() -> int:
    return secrets.randbelow(2**32)


def announce(line: str) -> None:
    """Print one line past behave's capture (the seed must be seen even when everything passes)."""
    out = sys.__stdout__ or sys.stdout
    out.write(line + "\n")
    out.flush()


def replay_hint(seed: int) -> str:
    return f"replay with PERMISO_FUZZ_SEED={seed}"


def budget_per_operation(deadline: float, remaining: int, clock: Callable[[], float] = time.monotonic) -> float:
    """The deadline of the next operation: the scenario's time left, shared by the operations left."""
    now = clock()
    return now + max(0.0, deadline - now) / max(1, remaining)
