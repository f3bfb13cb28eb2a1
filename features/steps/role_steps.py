"""Roles and scopes: what a role grants reaches the person's next token; permission checks; the
default roles; roles in use; creating scopes and roles.

Contract parts: A.7 (`/roles/`, `/roles/scopes/`, `PUT /roles/{id}/scopes`, DELETE 409 while
assigned, `POST /roles/permissions/check` and `check-bulk`, `GET /roles/defaults`; role changes take
effect on the user's next token), A.5 (default roles and their scopes), A.4 (the `scopes` claim),
A.2 (scope-guarded `/sessions/stats`: 403 without `admin:sessions`). Part C: D12-D14.
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import assert_that, contains_inanyorder, equal_to, has_item, has_items, is_not

from support.checks.matchers import has_status
from support.checks.token_matchers import is_jwt_with_claims, is_token_response
from support.domains import admin_flows, admin_matchers
from support.people import flows
from support.people.actors import actor
from support.people.identities import Identity

register_type(Who=flows.parse_who, Their=flows.parse_their)


def _identity(context: Any, who: str) -> Identity:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity), f"{who} is not a person with an account"
    return identity


def _quoted(phrase: str) -> list[str]:
    return admin_matchers.words(phrase)


# ---------------------------------------------------------------------------------------- roles reach tokens
@given('a role granting the scope "{scope}"')
def given_role_granting_scope(context: Any, scope: str) -> None:
    admin_flows.admin_book(context).roles["new"] = context.identities.role("granting", scopes=(scope,))


@given('{who:Who} holds a role granting the scope "{scope}"')
def given_person_holds_role_granting(context: Any, who: str, scope: str) -> None:
    role = context.identities.role("granting", scopes=(scope,))
    admin_flows.admin_book(context).roles["new"] = role
    actor(context, who, roles=(role,))
    flows.notebook(context).last_actor = who


@given("{who:Who} holds a role that allows reading {word}")
def given_person_holds_role_reading(context: Any, who: str, word: str) -> None:
    resource = admin_flows.unique_resource(context, word)
    scope = context.identities.scope(word, name=f"read:{resource}", resource=resource, action="read")
    role = context.identities.role(word, scopes=(scope,))
    admin_flows.admin_book(context).roles["new"] = role
    actor(context, who, roles=(role,))


def _new_role(context: Any) -> Any:
    role = admin_flows.admin_book(context).roles.get("new")
    assert role is not None, "no role was created in this scenario"
    return role


@given("the administrator has given {who:Who} the new role")
def given_administrator_has_given_role(context: Any, who: str) -> None:
    answer = context.identities.assign_roles(_identity(context, who), [_new_role(context)])
    assert_that(answer, has_status(200))


@given("the administrator has taken the role away from {who:Who}")
def given_administrator_has_taken_role_away(context: Any, who: str) -> None:
    assert_that(context.identities.assign_roles(_identity(context, who), []), has_status(200))


@when("{who:Who} signs in again")
def when_person_signs_in_again(context: Any, who: str) -> None:
    someone = flows.person(context, who)
    context.response = someone.sign_in()
    assert_that(context.response, is_token_response())


@then('{who:Who}\'s new token carries the scope "{scope}"')
def then_new_token_carries_scope(context: Any, who: str, scope: str) -> None:
    assert_that(context.response.body["access_token"], is_jwt_with_claims(scopes=has_item(scope)))


@then('{who:Who}\'s new token does not carry the scope "{scope}"')
def then_new_token_lacks_scope(context: Any, who: str, scope: str) -> None:
    assert_that(context.response.body["access_token"], is_jwt_with_claims(scopes=is_not(has_item(scope))))


@given("{who:Who} may read the session statistics")
@then("{who:Who} may read the session statistics")
def then_person_may_read_session_stats(context: Any, who: str) -> None:
    assert_that(flows.person(context, who).client.session_stats(), admin_matchers.a_success())


@given("{who:Who} may not read the session statistics")
@then("{who:Who} may not read the session statistics")
def then_person_may_not_read_session_stats(context: Any, who: str) -> None:
    assert_that(flows.person(context, who).client.session_stats(), admin_matchers.refused_as_not_allowed())


# ---------------------------------------------------------------------------------------- permission checks
@when("the administrator asks whether {who:Who} may {action} {word}")
def when_administrator_checks_permission(context: Any, who: str, action: str, word: str) -> None:
    resource = admin_flows.unique_resource(context, word)
    context.response = context.identities.admin.check_permission(str(_identity(context, who).id), resource,
                                                                 action)


@then("the answer is that she is {answer}")
@then("the answer is that he is {answer}")
def then_permission_answer(context: Any, answer: str) -> None:
    assert_that(context.response, admin_matchers.a_permission_answer(answer == "allowed"))


@when("the administrator checks these permissions of {who:Who} at once")
def when_administrator_checks_bulk(context: Any, who: str) -> None:
    rows = [{"action": r["action"], "resource": admin_flows.unique_resource(context, r["resource"]),
             "answer": r["answer"]} for r in context.table]
    admin_flows.admin_book(context).noted["bulk"] = rows
    context.response = context.identities.admin.check_permissions_bulk(
        str(_identity(context, who).id), [{"resource": r["resource"], "action": r["action"]} for r in rows])


@then("each permission is answered as listed")
def then_each_permission_as_listed(context: Any) -> None:
    assert_that(context.response, has_status(200))
    rows = admin_flows.admin_book(context).noted["bulk"]
    results = admin_matchers.items_of(context.response, "results")
    assert_that(len(results), equal_to(len(rows)), "one result per permission asked")
    for row, result in zip(rows, results, strict=True):
        assert_that(result, admin_matchers.a_permission_answer(row["answer"] == "allowed"))


@then("the answer lists {who:Who}'s roles and scopes")
def then_answer_lists_roles_and_scopes(context: Any, who: str) -> None:
    role = _new_role(context)
    resource = admin_flows.unique_resource(context, "reports")
    assert_that(context.response.body["user_roles"], has_item(role.name))
    assert_that(context.response.body["user_scopes"], has_item(f"read:{resource}"))


# ---------------------------------------------------------------------------------------- defaults
@when("the administrator asks for the default roles")
def when_administrator_asks_default_roles(context: Any) -> None:
    context.response = context.identities.admin.default_roles()


@then("the default roles are {names}")
def then_default_roles_are(context: Any, names: str) -> None:
    assert_that(context.response, has_status(200))
    assert_that(context.response.body["roles"], contains_inanyorder(*_quoted(names)))


@when('the administrator looks up the role "{name}"')
def when_administrator_looks_up_role(context: Any, name: str) -> None:
    role_id = context.identities.role_id(name)
    context.response = context.identities.admin.get_role(role_id)


@then("the role grants at least {scopes}")
def then_role_grants_at_least(context: Any, scopes: str) -> None:
    assert_that(context.response, has_status(200))
    assert_that(admin_matchers.scope_names_of_role(context.response.body), has_items(*_quoted(scopes)))


# ---------------------------------------------------------------------------------------- roles in use
@when("the administrator tries to delete that role")
def when_administrator_tries_delete_role(context: Any) -> None:
    context.response = context.identities.admin.delete_role(_new_role(context).id)


@then("once the role is taken away from {who:Who} the administrator can delete it")
def then_role_deletable_once_unassigned(context: Any, who: str) -> None:
    assert_that(context.identities.assign_roles(_identity(context, who), []), has_status(200))
    assert_that(context.identities.admin.delete_role(_new_role(context).id), has_status(204))


# ---------------------------------------------------------------------------------------- creating
@when("the administrator creates a scope for reading {word} and a role with it")
def when_administrator_creates_scope_and_role(context: Any, word: str) -> None:
    resource = admin_flows.unique_resource(context, word)
    scope = context.identities.scope(word, name=f"read:{resource}", resource=resource, action="read")
    book = admin_flows.admin_book(context)
    book.scopes[word] = scope
    book.roles["new"] = context.identities.role(word, scopes=(scope,))


@then("the role is shown with the scope for reading {word}")
def then_role_shown_with_scope(context: Any, word: str) -> None:
    answer = context.identities.admin.get_role(_new_role(context).id)
    assert_that(answer, has_status(200))
    assert_that(admin_matchers.scope_names_of_role(answer.body),
                equal_to([f"read:{admin_flows.unique_resource(context, word)}"]))


@then('the administrator can replace the role\'s scopes with "{scope}"')
def then_administrator_can_replace_role_scopes(context: Any, scope: str) -> None:
    answer = context.identities.admin.set_role_scopes(_new_role(context).id, [context.identities.scope_id(scope)])
    assert_that(answer, has_status(200))


@then('the role is shown with exactly the scope "{scope}"')
def then_role_shown_with_exactly(context: Any, scope: str) -> None:
    answer = context.identities.admin.get_role(_new_role(context).id)
    assert_that(answer, has_status(200))
    assert_that(admin_matchers.scope_names_of_role(answer.body), equal_to([scope]))
