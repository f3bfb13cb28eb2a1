"""Routes under `/roles` (contract A.7): roles, scopes, permission checks, statistics.

Every route is guarded by ``require_admin`` except the permission checks, which need scope
``admin:permissions`` (A.7). Ids are the UUID strings stored in SQLite; a path id that is not a known
id (UUID or not) is simply not found, so the D13 defect (integer-typed ids → 422/500) cannot occur.

Static paths (``/scopes/``, ``/stats``, ``/defaults``, ``/permissions/...``) are declared before the
``/{role_id}`` routes: FastAPI matches in declaration order and ``/stats`` would otherwise be taken
for a role id (the D13 "unreachable" symptom).

Role changes take effect on a user's *next* token: tokens are issued by the auth router from
``user_roles``/``role_scopes``, which these routes update; issued tokens are not touched.
"""

from __future__ import annotations

import math
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, Field

from permiso_reference.db import DEFAULT_ROLES, Database, new_id, now_iso, split_scope
from permiso_reference.errors import ValidationFailed, conflict, not_found
from permiso_reference.faults import fault
from permiso_reference.guards import Principal, require_admin, require_scope
from permiso_reference.tokens import expand_scopes

router = APIRouter()

Admin = Annotated[Principal, Depends(require_admin)]
PermissionsCaller = Annotated[Principal, Depends(require_scope("admin:permissions"))]

#: Upper bound of ``page`` (an unbounded int overflows SQLite's OFFSET: a 500).
MAX_PAGE = 1_000_000
#: Display names: any printable text, no control characters (NUL and friends).
NAME_PATTERN = r"^[^\x00-\x1f\x7f]+$"
SCOPE_NAME_PATTERN = r"^[A-Za-z0-9_.\-]+(:[A-Za-z0-9_.\-*]+)*$"


# -- request bodies --------------------------------------------------------------------------------
class RoleCreate(BaseModel):
    """Body of ``POST /roles/``."""

    name: str = Field(min_length=2, max_length=50, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=500)
    scope_ids: list[str] = Field(default_factory=list, max_length=500)


class RoleUpdate(BaseModel):
    """Body of ``PUT /roles/{id}``: every field optional; ``scope_ids`` replaces the set when given."""

    name: str | None = Field(default=None, min_length=2, max_length=50, pattern=NAME_PATTERN)
    description: str | None = Field(default=None, max_length=500)
    scope_ids: list[str] | None = Field(default=None, max_length=500)


class ScopeIds(BaseModel):
    """Body of ``PUT /roles/{id}/scopes``: the complete new set."""

    scope_ids: list[str] = Field(max_length=500)


class ScopeCreate(BaseModel):
    """Body of ``POST /roles/scopes/``; resource/action default to the parts of ``action:resource``."""

    name: str = Field(min_length=2, max_length=100, pattern=SCOPE_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=500)
    resource: str | None = Field(default=None, max_length=100)
    action: str | None = Field(default=None, max_length=50)


class ScopeUpdate(BaseModel):
    """Body of ``PUT /roles/scopes/{id}``."""

    name: str | None = Field(default=None, min_length=2, max_length=100, pattern=SCOPE_NAME_PATTERN)
    description: str | None = Field(default=None, max_length=500)
    resource: str | None = Field(default=None, max_length=100)
    action: str | None = Field(default=None, max_length=50)


class PermissionItem(BaseModel):
    """One ``{resource, action}`` pair."""

    resource: str = Field(min_length=1, max_length=100)
    action: str = Field(min_length=1, max_length=50)


class PermissionCheck(PermissionItem):
    """Body of ``POST /roles/permissions/check``."""

    user_id: str = Field(min_length=1, max_length=64)


class BulkPermissionCheck(BaseModel):
    """Body of ``POST /roles/permissions/check-bulk`` (at most 100 pairs: bounded work per request)."""

    user_id: str = Field(min_length=1, max_length=64)
    permissions: list[PermissionItem] = Field(min_length=1, max_length=100)


# -- helpers ---------------------------------------------------------------------------------------
def _db(request: Request) -> Database:
    return request.app.state.db


def _scope_brief(row: dict[str, Any]) -> dict[str, Any]:
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "resource": row["resource"], "action": row["action"]}


def role_json(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    """Role JSON of A.7 (scopes sorted by name, live user count)."""
    scopes = db.all(
        "SELECT s.* FROM role_scopes rs JOIN scopes s ON s.id = rs.scope_id WHERE rs.role_id = ?"
        " ORDER BY s.name", (row["id"],))
    user_count = db.scalar("SELECT COUNT(*) FROM user_roles WHERE role_id = ?", (row["id"],))
    return {"id": row["id"], "name": row["name"], "description": row["description"],
            "created_at": row["created_at"], "updated_at": row["updated_at"],
            "scopes": [_scope_brief(s) for s in scopes], "user_count": int(user_count or 0)}


def scope_json(db: Database, row: dict[str, Any]) -> dict[str, Any]:
    """Scope JSON of A.7 with the number of roles using it."""
    role_count = db.scalar("SELECT COUNT(*) FROM role_scopes WHERE scope_id = ?", (row["id"],))
    return {**_scope_brief(row), "created_at": row["created_at"], "updated_at": row["updated_at"],
            "role_count": int(role_count or 0)}


def _role_or_404(db: Database, role_id: str) -> dict[str, Any]:
    row = db.one("SELECT * FROM roles WHERE id = ?", (role_id,))
    if row is None:
        raise not_found("Role not found")
    return row


def _scope_or_404(db: Database, scope_id: str) -> dict[str, Any]:
    row = db.one("SELECT * FROM scopes WHERE id = ?", (scope_id,))
    if row is None:
        raise not_found("Scope not found")
    return row


def checked_scope_ids(db: Database, scope_ids: list[str], loc_field: str = "scope_ids") -> list[str]:
    """Deduplicated scope ids, all existing; an unknown id is a 422 (never silently dropped).

    Silently ignoring unknown ids would let a typo create a role with fewer rights than asked and
    report success; refusing is what a reviewer expects.
    """
    unique = list(dict.fromkeys(scope_ids))
    for index, scope_id in enumerate(unique):
        if db.scalar("SELECT 1 FROM scopes WHERE id = ?", (scope_id,)) is None:
            raise ValidationFailed(["body", loc_field, index], "Unknown scope id", scope_id)
    return unique


def _pages(total: int, per_page: int) -> int:
    return max(1, math.ceil(total / per_page)) if per_page else 1


def _name_taken(db: Database, table: str, name: str, except_id: str | None = None) -> bool:
    row = db.one(f"SELECT id FROM {table} WHERE lower(name) = lower(?)", (name,))
    return row is not None and row["id"] != except_id


# -- permission evaluation (also used by the admin router) -------------------------------------------
def evaluate_permission(user: dict[str, Any], owned: list[str], resource: str,
                        action: str) -> tuple[bool, str, list[str]]:
    """Whether a user may do ``action`` on ``resource``: ``(allowed, reason, matching_scopes)``.

    The rule is A.4's: the scope ``action:resource`` or one implying it (``admin:resource`` implies
    read/write, ``admin:system`` implies the default roles' scopes), or a superuser. Disabled users are
    refused whatever they hold.
    """
    wanted = f"{action}:{resource}"
    matching = [name for name in owned if wanted in expand_scopes([name])]
    if not user.get("is_active"):
        return False, "User account is disabled", matching
    if user.get("is_superuser"):
        return True, "Superuser access", matching
    if matching:
        return True, f"Granted by scopes: {', '.join(matching)}", matching
    return False, "No matching permissions found", matching


def _user_or_404(db: Database, user_id: str) -> dict[str, Any]:
    user = db.one("SELECT * FROM users WHERE id = ?", (user_id,))
    if user is None:
        raise not_found("User not found")
    return user


# -- scopes (before /{role_id}) ----------------------------------------------------------------------
@router.get("/scopes/")
def list_scopes(request: Request, _: Admin, search: str | None = Query(None, max_length=100),
                resource: str | None = Query(None, max_length=100),
                action: str | None = Query(None, max_length=50),
                page: int = Query(1, ge=1, le=MAX_PAGE),
                per_page: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """All scopes, oldest first (the bootstrap scopes lead), with filters and pagination.

    ``per_page`` defaults to 100 (not 20) so a plain listing still contains every default scope after
    many test scopes were added.
    """
    db = _db(request)
    where, params = _filters(search, resource=resource, action=action)
    total = int(db.scalar(f"SELECT COUNT(*) FROM scopes{where}", params) or 0)
    rows = db.all(f"SELECT * FROM scopes{where} ORDER BY created_at, name LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    return {"scopes": [scope_json(db, r) for r in rows], "total": total, "page": page,
            "per_page": per_page, "pages": _pages(total, per_page)}


def _filters(search: str | None, **equal: str | None) -> tuple[str, list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []
    if search:
        clauses.append("(lower(name) LIKE ? OR lower(coalesce(description, '')) LIKE ?)")
        needle = f"%{search.lower()}%"
        params += [needle, needle]
    for column, value in equal.items():
        if value is not None:
            clauses.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(clauses)) if clauses else "", params


@router.post("/scopes/", status_code=201)
def create_scope(request: Request, principal: Admin, body: ScopeCreate) -> dict[str, Any]:
    """Create a scope (409 on a taken name; D14 is a defect)."""
    db = _db(request)
    if _name_taken(db, "scopes", body.name):
        raise conflict("Scope name already exists")
    default_resource, default_action = split_scope(body.name)
    scope_id, stamp = new_id(), now_iso()
    db.execute("INSERT INTO scopes (id, name, description, resource, action, created_at, updated_at)"
               " VALUES (?,?,?,?,?,?,?)",
               (scope_id, body.name, body.description, body.resource or default_resource,
                body.action or default_action, stamp, stamp))
    db.audit("scope_created", actor_id=principal.user_id, resource_type="scope", resource_id=scope_id,
             details={"name": body.name})
    return scope_json(db, _scope_or_404(db, scope_id))


@router.get("/scopes/{scope_id}")
def get_scope(request: Request, _: Admin, scope_id: str) -> dict[str, Any]:
    """One scope (404 ``not_found``)."""
    db = _db(request)
    return scope_json(db, _scope_or_404(db, scope_id))


@router.put("/scopes/{scope_id}")
def update_scope(request: Request, principal: Admin, scope_id: str, body: ScopeUpdate) -> dict[str, Any]:
    """Update the given fields of a scope (409 on a taken name)."""
    db = _db(request)
    row = _scope_or_404(db, scope_id)
    changes = body.model_dump(exclude_unset=True)
    if changes.get("name") is None:
        changes.pop("name", None)
    if "name" in changes and _name_taken(db, "scopes", changes["name"], except_id=scope_id):
        raise conflict("Scope name already exists")
    if changes:
        sets = ", ".join(f"{column} = ?" for column in changes)
        db.execute(f"UPDATE scopes SET {sets}, updated_at = ? WHERE id = ?",
                   [*changes.values(), now_iso(), scope_id])
        db.audit("scope_updated", actor_id=principal.user_id, resource_type="scope",
                 resource_id=scope_id, details={"fields": sorted(changes)})
    return scope_json(db, _scope_or_404(db, row["id"]))


@router.delete("/scopes/{scope_id}", status_code=204)
def delete_scope(request: Request, principal: Admin, scope_id: str) -> Response:
    """Delete a scope; 409 while a role uses it (would silently strip rights otherwise)."""
    db = _db(request)
    row = _scope_or_404(db, scope_id)
    if db.scalar("SELECT COUNT(*) FROM role_scopes WHERE scope_id = ?", (scope_id,)):
        raise conflict("Cannot delete a scope that is assigned to roles")
    db.execute("DELETE FROM scopes WHERE id = ?", (scope_id,))
    db.audit("scope_deleted", actor_id=principal.user_id, resource_type="scope", resource_id=scope_id,
             details={"name": row["name"]})
    return Response(status_code=204)


# -- permission checks -----------------------------------------------------------------------------
@router.post("/permissions/check")
def check_permission(request: Request, _: PermissionsCaller, body: PermissionCheck) -> dict[str, Any]:
    """May this user do ``action`` on ``resource``? (answers from the DB, i.e. the next token's view)."""
    db = _db(request)
    user = _user_or_404(db, body.user_id)
    owned = db.user_scope_names(user["id"])
    allowed, reason, matching = evaluate_permission(user, owned, body.resource, body.action)
    if fault(request, "permission_check_wrong"):
        allowed = True
    return {"allowed": allowed, "reason": reason, "matching_scopes": matching,
            "user_roles": [r["name"] for r in db.user_roles(user["id"])]}


@router.post("/permissions/check-bulk")
def check_permissions_bulk(request: Request, _: PermissionsCaller,
                           body: BulkPermissionCheck) -> dict[str, Any]:
    """Several checks for one user; ``results`` follow the order of ``permissions``."""
    db = _db(request)
    user = _user_or_404(db, body.user_id)
    owned = db.user_scope_names(user["id"])
    roles = [r["name"] for r in db.user_roles(user["id"])]
    results = []
    for item in body.permissions:
        allowed, reason, matching = evaluate_permission(user, owned, item.resource, item.action)
        if fault(request, "permission_check_wrong"):
            allowed = True
        results.append({"resource": item.resource, "action": item.action, "allowed": allowed,
                        "reason": reason, "matching_scopes": matching, "user_roles": roles})
    return {"results": results, "user_roles": roles, "user_scopes": owned}


@router.get("/permissions/user/{user_id}")
def user_permissions(request: Request, _: PermissionsCaller, user_id: str) -> dict[str, Any]:
    """A user's scopes grouped by resource (owned scopes; implied ones are listed in ``effective``)."""
    db = _db(request)
    user = _user_or_404(db, user_id)
    owned = db.user_scope_names(user["id"])
    resources: dict[str, dict[str, Any]] = {}
    global_permissions: list[str] = []
    for name in owned:
        if ":" not in name:
            global_permissions.append(name)
            continue
        action, resource = name.split(":", 1)
        entry = resources.setdefault(resource, {"resource": resource, "actions": [], "scopes": []})
        entry["actions"].append(action)
        entry["scopes"].append(name)
    return {"user_id": user["id"], "username": user["username"],
            "roles": [r["name"] for r in db.user_roles(user["id"])], "scopes": owned,
            "effective_scopes": sorted(expand_scopes(owned)),
            "resources": sorted(resources.values(), key=lambda r: r["resource"]),
            "global_permissions": global_permissions, "is_superuser": bool(user["is_superuser"])}


# -- statistics and defaults -----------------------------------------------------------------------
@router.get("/stats")
def role_stats(request: Request, _: Admin) -> dict[str, Any]:
    """Counts and the five most / least used roles and scopes (live from the DB)."""
    db = _db(request)
    common = db.all("SELECT r.name, COUNT(ur.user_id) AS count FROM roles r"
                    " LEFT JOIN user_roles ur ON ur.role_id = r.id GROUP BY r.id"
                    " ORDER BY count DESC, r.name LIMIT 5")
    least = db.all("SELECT s.name, COUNT(rs.role_id) AS count FROM scopes s"
                   " LEFT JOIN role_scopes rs ON rs.scope_id = s.id GROUP BY s.id"
                   " ORDER BY count ASC, s.name LIMIT 5")
    return {"total_roles": int(db.scalar("SELECT COUNT(*) FROM roles") or 0),
            "total_scopes": int(db.scalar("SELECT COUNT(*) FROM scopes") or 0),
            "most_common_roles": common, "least_used_scopes": least}


@router.get("/defaults")
def default_roles(_: Admin, ) -> dict[str, Any]:
    """The names of the roles every deployment starts with (A.7 order)."""
    ordered = ["user", "admin", "trader", "service"]
    return {"roles": [name for name in ordered if name in DEFAULT_ROLES],
            "description": "Default roles that can be created in the system"}


# -- roles -----------------------------------------------------------------------------------------
@router.get("/")
def list_roles(request: Request, _: Admin, search: str | None = Query(None, max_length=100),
               scope_id: str | None = Query(None, max_length=64),
               page: int = Query(1, ge=1, le=MAX_PAGE),
               per_page: int = Query(100, ge=1, le=1000)) -> dict[str, Any]:
    """Roles, oldest first (defaults lead), with search / scope filter and pagination."""
    db = _db(request)
    where, params = _filters(search)
    if scope_id is not None:
        where += (" AND " if where else " WHERE ") + \
            "id IN (SELECT role_id FROM role_scopes WHERE scope_id = ?)"
        params.append(scope_id)
    total = int(db.scalar(f"SELECT COUNT(*) FROM roles{where}", params) or 0)
    rows = db.all(f"SELECT * FROM roles{where} ORDER BY created_at, name LIMIT ? OFFSET ?",
                  [*params, per_page, (page - 1) * per_page])
    return {"roles": [role_json(db, r) for r in rows], "total": total, "page": page,
            "per_page": per_page, "pages": _pages(total, per_page)}


@router.post("/", status_code=201)
def create_role(request: Request, principal: Admin, body: RoleCreate) -> dict[str, Any]:
    """Create a role with its scopes (409 on a taken name, case-insensitive)."""
    db = _db(request)
    if _name_taken(db, "roles", body.name):
        raise conflict("Role name already exists")
    scope_ids = checked_scope_ids(db, body.scope_ids)
    role_id, stamp = new_id(), now_iso()
    with db.transaction() as conn:
        conn.execute("INSERT INTO roles (id, name, description, created_at, updated_at) VALUES (?,?,?,?,?)",
                     (role_id, body.name, body.description, stamp, stamp))
        conn.executemany("INSERT INTO role_scopes (role_id, scope_id) VALUES (?, ?)",
                         [(role_id, s) for s in scope_ids])
    db.audit("role_created", actor_id=principal.user_id, resource_type="role", resource_id=role_id,
             details={"name": body.name, "scope_ids": scope_ids})
    return role_json(db, _role_or_404(db, role_id))


@router.get("/{role_id}")
def get_role(request: Request, _: Admin, role_id: str) -> dict[str, Any]:
    """One role (404 ``not_found``)."""
    db = _db(request)
    return role_json(db, _role_or_404(db, role_id))


@router.put("/{role_id}")
def update_role(request: Request, principal: Admin, role_id: str, body: RoleUpdate) -> dict[str, Any]:
    """Update name / description; ``scope_ids`` (when given) replaces the scope set."""
    db = _db(request)
    _role_or_404(db, role_id)
    changes = body.model_dump(exclude_unset=True)
    scope_ids = changes.pop("scope_ids", None)
    if changes.get("name") is None:
        changes.pop("name", None)
    if "name" in changes and _name_taken(db, "roles", changes["name"], except_id=role_id):
        raise conflict("Role name already exists")
    checked = checked_scope_ids(db, scope_ids) if scope_ids is not None else None
    with db.transaction() as conn:
        if changes:
            sets = ", ".join(f"{column} = ?" for column in changes)
            conn.execute(f"UPDATE roles SET {sets} WHERE id = ?", [*changes.values(), role_id])
        if checked is not None:
            _replace_scopes(conn, role_id, checked)
        conn.execute("UPDATE roles SET updated_at = ? WHERE id = ?", (now_iso(), role_id))
    db.audit("role_updated", actor_id=principal.user_id, resource_type="role", resource_id=role_id,
             details={"fields": sorted(changes) + (["scope_ids"] if checked is not None else [])})
    return role_json(db, _role_or_404(db, role_id))


def _replace_scopes(conn: Any, role_id: str, scope_ids: list[str]) -> None:
    conn.execute("DELETE FROM role_scopes WHERE role_id = ?", (role_id,))
    conn.executemany("INSERT INTO role_scopes (role_id, scope_id) VALUES (?, ?)",
                     [(role_id, s) for s in scope_ids])


@router.put("/{role_id}/scopes")
def set_role_scopes(request: Request, principal: Admin, role_id: str, body: ScopeIds) -> dict[str, Any]:
    """Replace the role's scope set (users see the change in their next token)."""
    db = _db(request)
    _role_or_404(db, role_id)
    checked = checked_scope_ids(db, body.scope_ids)
    with db.transaction() as conn:
        _replace_scopes(conn, role_id, checked)
        conn.execute("UPDATE roles SET updated_at = ? WHERE id = ?", (now_iso(), role_id))
    db.audit("role_scopes_updated", actor_id=principal.user_id, resource_type="role",
             resource_id=role_id, details={"scope_ids": checked})
    return role_json(db, _role_or_404(db, role_id))


@router.delete("/{role_id}", status_code=204)
def delete_role(request: Request, principal: Admin, role_id: str) -> Response:
    """Delete a role; 409 while assigned to users (would silently strip their rights)."""
    db = _db(request)
    row = _role_or_404(db, role_id)
    if db.scalar("SELECT COUNT(*) FROM user_roles WHERE role_id = ?", (role_id,)):
        raise conflict("Cannot delete a role that is assigned to users")
    db.execute("DELETE FROM roles WHERE id = ?", (role_id,))
    db.audit("role_deleted", actor_id=principal.user_id, resource_type="role", resource_id=role_id,
             details={"name": row["name"]})
    return Response(status_code=204)
