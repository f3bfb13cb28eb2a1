"""Profiles: named sets of behaviours the reference server can play, chosen with ``--profile``.

A profile is data, not a second server: a set of fault/variant names of
:mod:`permiso_reference.faults` plus optional :class:`~permiso_reference.config.ReferenceSettings`
overrides. ``create_app`` expands ``settings.profile`` into ``app.state.faults`` (together with any
explicitly given faults), so every behaviour stays a named switch the tests can probe one by one.

- ``contract`` (the default): the intended contract of Part A, no fault on.
- ``release-1.0``: how the current Permiso release answers on the wire (contract Part D), as far as one
  process can reproduce it. Its acceptable variants are listed too: they are part of how the release
  answers, but the suite must stay green with them.

What one process cannot play (nginx's own 400/414 pages, the 4-worker deployment, PostgreSQL/Redis
specifics, argon2 timings) is named in ``NOT_REPRODUCED``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

from permiso_reference.config import ReferenceSettings
from permiso_reference.faults import validate_faults

DEFAULT_PROFILE = "contract"


@dataclass(frozen=True)
class Profile:
    """A named set of behaviours (fault and variant names) plus settings overrides."""

    name: str
    summary: str
    faults: frozenset[str] = frozenset()
    overrides: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))


#: Part D of the contract, behaviour by behaviour (defect id in the comment).
RELEASE_1_0_FAULTS: frozenset[str] = frozenset({
    # D.1 guards
    "admin_guard_query_param",          # D1
    "scope_guard_trusts_body",          # D1
    "role_ids_integer",                 # D13
    # D.2 lockout and accounts
    "lock_naive_datetime",              # D2
    "session_renew_500",                # D2
    "lock_never_expires",               # D2
    "disabled_failures_count",          # D3
    # D.3 tokens
    "bearer_401_no_challenge",          # D9
    "registration_429_no_retry_after",  # D9
    "no_store_missing",                 # D28
    "refresh_as_access",                # D5
    "rotated_refresh_as_bearer",        # D7
    "introspect_any_token_type",        # D5
    "exp_not_required",                 # D31
    "audience_not_checked",             # D6
    "revoked_introspect_active",        # D8
    "introspect_ignores_account",       # D8
    "logout_ends_all_sessions",         # D.3
    "session_user_id_integer",          # D18
    "end_all_includes_current",         # D18
    "sessions_not_gating",              # D18
    "unsupported_grant_422",            # D34
    "client_not_found_distinct",        # D30
    # D.4 errors and hostile input
    "detail_shape_errors",              # D.4
    "validation_echoes_input",          # D10
    "validation_ctx_exception",         # D10
    "traceback_in_500",                 # D10, D33
    "hostile_input_500",                # D33
    "refresh_form_500",                 # D33
    "bad_token_500_empty",              # D11
    "mass_assignment",                  # D15
    "allow_list_not_enforced",          # D24
    "enumeration_timing",               # D29
    # D.5 front and deployment (what one process has of it)
    "redirect_no_permissions_policy",   # D32
    "rate_limit_503_bare",              # F1
    "docs_public_in_production",        # D17 (with the profile's environment "production")
})

#: Acceptable variants the release shows (Part A.3, D.3, D.4).
RELEASE_1_0_VARIANTS: frozenset[str] = frozenset({
    "refresh_error_code_invalid_token",
    "refresh_session_id_null",
    "logout_count_all",
    "sign_in_password_length_unchecked",
    "inactive_sessions_kept",
})

PROFILES: dict[str, Profile] = {
    "contract": Profile("contract", "the intended contract (Part A): no fault, no variant (default)"),
    "release-1.0": Profile(
        "release-1.0",
        f"the current Permiso release as observed on the wire (Part D): {len(RELEASE_1_0_FAULTS)} faults "
        f"and {len(RELEASE_1_0_VARIANTS)} acceptable variants",
        RELEASE_1_0_FAULTS | RELEASE_1_0_VARIANTS,
        # The release runs as a production deployment (its /health says so): D17 is about exactly that.
        MappingProxyType({"environment": "production"}),
    ),
}

#: Part D behaviours one reference process does not reproduce, and why (documentation for reports).
NOT_REPRODUCED: dict[str, str] = {
    "F1 nginx 400/414 pages": "answered by nginx itself before the app; the reference has no nginx in-process "
                              "(`permiso-reference front` runs a real one)",
    "D.5 argon2 timings": "the reference hashes with bcrypt (cost 4) by default; `--hashing production` "
                          "(PERMISO_REFERENCE_HASHING) gives the release's argon2id; D29 is played by "
                          "`enumeration_timing`",
    "D.5 4 workers / D19 shared bucket": "one process, one loopback address: every client already shares "
                                         "the registration bucket",
    "D26 bootstrap password rule": "the suite hands its configured administrator to the embedded server",
}


def profile_names() -> list[str]:
    """Known profile names, default first."""
    return [DEFAULT_PROFILE, *sorted(n for n in PROFILES if n != DEFAULT_PROFILE)]


def get_profile(name: str | None) -> Profile:
    """The named profile (None or "" = the default); ValueError with one clear line when unknown."""
    key = (name or DEFAULT_PROFILE).strip()
    try:
        return PROFILES[key]
    except KeyError:
        raise ValueError(f"unknown profile: {key} (known: {', '.join(profile_names())}; "
                         f"see `permiso-reference profiles`)") from None


def apply_profile(settings: ReferenceSettings) -> ReferenceSettings:
    """Settings with the profile expanded: its behaviours added to ``faults``, its overrides applied."""
    profile = get_profile(settings.profile)
    faults = validate_faults(profile.faults | set(settings.faults))
    return replace(settings, faults=faults, **dict(profile.overrides))


def _check_profiles() -> None:
    for profile in PROFILES.values():
        validate_faults(profile.faults)
        unknown = set(profile.overrides) - set(ReferenceSettings.__dataclass_fields__)
        if unknown:
            raise ValueError(f"profile {profile.name}: unknown settings {sorted(unknown)}")


_check_profiles()
