"""User accounts: the administrator's management of accounts, a person's own profile and password,
and self-registration.

Contract parts: A.6 (user JSON without password or hash; `POST /users/register` 201 active,
unverified, without roles, `role_ids`/`is_active`/`is_verified` ignored, 409 `conflict`, 422 policy,
429 after 3 per hour per IP; admin list with `search`, `is_active`, pagination; admin create, read,
update, disable/enable, delete; `PUT /users/me` (a new email clears `is_verified`);
`PUT /users/{id}/password` (400 for a wrong current password); `GET /users/stats/overview`),
A.5 (password policy, special-use email domains refused with 422), A.11 (validation errors never
echo submitted values), Part B (registration budget: skip with the reason when it is spent).
"""

from __future__ import annotations

from typing import Any

from behave import given, register_type, then, when
from hamcrest import all_of, assert_that, equal_to

from support.checks.error_matchers import is_http_error, is_oauth_error, is_validation_error
from support.checks.matchers import has_status, is_user_json
from support.checks.token_matchers import is_token_response
from support.domains import admin_flows, admin_matchers, registration
from support.people import flows
from support.people.actors import actor, anonymous
from support.people.identities import Identity, generate_password, require
from support.wire.admin_session import ensure_admin
from support.wire.evidence import ApiResponse

register_type(Who=flows.parse_who, Their=flows.parse_their)


def _identity(context: Any, who: str) -> Identity:
    identity = flows.person(context, who).identity
    assert isinstance(identity, Identity), f"{who} is not a person with an account"
    return identity


def _fresh_sign_in(context: Any, identity: Identity, label: str) -> ApiResponse:
    client = flows.new_device(context.settings, context.log, context.target.base_url, label)
    context.add_cleanup(client.close)
    return client.sign_in(identity.username, identity.password)


def _clue(identity: Identity, clue: str) -> str:
    values = {"username": identity.username, "email address": identity.email}
    assert clue in values, f"unknown clue {clue!r}; known: {', '.join(values)}"
    return values[clue]


def _field_name(field: str) -> str:
    names = {"username": "username", "email address": "email"}
    assert field in names, f"unknown field {field!r}; known: {', '.join(names)}"
    return names[field]


# ---------------------------------------------------------------------------------------- creation
@when("the administrator creates an account for {who:Who}")
def when_administrator_creates_account(context: Any, who: str) -> None:
    actor(context, who, own=True)  # the creation is what this step is about: never a borrowed person
    context.response = context.identities.admin.last
    flows.notebook(context).last_actor = who


@then("the new account is shown with {who:Who}'s details and no password")
def then_new_account_shown(context: Any, who: str) -> None:
    identity = _identity(context, who)
    assert_that(context.response, all_of(has_status(201), is_user_json(
        id=identity.id, username=identity.username, email=identity.email, is_active=True)))
    assert identity.password not in context.response.text, "the answer contains the password"


@then("{who:Who} can sign in with {their:Their} password")
def then_person_can_sign_in_with_password(context: Any, who: str, their: str) -> None:
    assert_that(_fresh_sign_in(context, _identity(context, who), f"{who} again"), is_token_response())


# ---------------------------------------------------------------------------------------- finding
@when("the administrator searches the accounts for {who:Who}'s {clue}")
def when_administrator_searches_accounts(context: Any, who: str, clue: str) -> None:
    value = _clue(_identity(context, who), clue)
    context.response = ensure_admin(context).list_users(search=value, per_page=100)


@then("{who:Who} is among the accounts found")
def then_person_among_accounts_found(context: Any, who: str) -> None:
    assert_that(context.response, admin_matchers.a_page_of("users"))
    assert_that(context.response, admin_matchers.lists_username(_identity(context, who).username))


@then("{who:Who} is not among the accounts found")
def then_person_not_among_accounts_found(context: Any, who: str) -> None:
    assert_that(context.response, admin_matchers.lacks_username(_identity(context, who).username))


@given("the administrator has disabled {who:Who}'s account")
def given_administrator_has_disabled_account(context: Any, who: str) -> None:
    require(context.identities.deactivate(_identity(context, who)), 200, what=f"disable {who}'s account")


@when("the administrator lists the disabled accounts")
def when_administrator_lists_disabled_accounts(context: Any) -> None:
    context.response = ensure_admin(context).list_users(
        is_active=False, search=f"pa_{context.settings.permiso_run_id}", per_page=100)


@when("the administrator lists the accounts {size:d} per page")
def when_administrator_lists_accounts_paged(context: Any, size: int) -> None:
    admin = ensure_admin(context)
    search = f"pa_{context.settings.permiso_run_id}"
    pages = [admin.list_users(search=search, per_page=size, page=n) for n in (1, 2)]
    admin_flows.admin_book(context).noted["pages"] = pages
    context.response = pages[0]


@then("each page holds at most {size:d} account and the pages add up to the total")
def then_pages_add_up(context: Any, size: int) -> None:
    first, second = admin_flows.admin_book(context).noted["pages"]
    for page in (first, second):
        assert_that(page, admin_matchers.a_page_of("users", size))
    assert first.body["total"] >= 2, "at least the two accounts of this scenario are found"
    assert_that(first.body["pages"], equal_to(first.body["total"]))
    names = [u["username"] for u in admin_matchers.items_of(first, "users")]
    assert_that(second, admin_matchers.lacks_username(names[0]))


# ---------------------------------------------------------------------------------------- changing
@when("the administrator changes {who:Who}'s display name")
def when_administrator_changes_display_name(context: Any, who: str) -> None:
    name = f"Renamed {who}"
    admin_flows.admin_book(context).noted["display_name"] = name
    context.response = ensure_admin(context).update_user(str(_identity(context, who).id), display_name=name)
    assert_that(context.response, has_status(200))


@then("{who:Who}'s account shows the new display name")
def then_account_shows_new_display_name(context: Any, who: str) -> None:
    name = admin_flows.admin_book(context).noted["display_name"]
    assert_that(admin_flows.admin_read_user(context, _identity(context, who)), is_user_json(display_name=name))


@then("the administrator sees {who:Who}'s account as inactive")
def then_administrator_sees_inactive(context: Any, who: str) -> None:
    assert_that(admin_flows.admin_read_user(context, _identity(context, who)), is_user_json(is_active=False))


@then("the administrator can enable {who:Who}'s account again")
def then_administrator_can_enable_account(context: Any, who: str) -> None:
    identity = _identity(context, who)
    assert_that(ensure_admin(context).update_user(str(identity.id), is_active=True),
                is_user_json(is_active=True))


@when("the administrator removes {who:Who}'s account")
def when_administrator_deletes_account(context: Any, who: str) -> None:
    context.response = context.identities.delete(_identity(context, who))
    assert_that(context.response, has_status(204))


@then("the administrator no longer finds {who:Who}'s account")
def then_administrator_no_longer_finds_account(context: Any, who: str) -> None:
    assert_that(admin_flows.admin_read_user(context, _identity(context, who)), is_http_error(404))


@then("{who:Who}'s sign-in is refused as invalid_grant")
def then_persons_sign_in_refused(context: Any, who: str) -> None:
    assert_that(_fresh_sign_in(context, _identity(context, who), f"{who} again"),
                is_oauth_error("invalid_grant", 401))


# ---------------------------------------------------------------------------------------- duplicates
@when("the administrator creates another account with {who:Who}'s {field}")
def when_administrator_creates_duplicate(context: Any, who: str, field: str) -> None:
    identity = _identity(context, who)
    name = _field_name(field)
    body = admin_flows.user_body(context, **{name: getattr(identity, name)})
    admin_flows.admin_book(context).attempted = body
    context.response = ensure_admin(context).create_user(**body)
    admin_flows.track_created(context, "user", context.response)


@then("the creation is refused as a conflict")
@then("the registration is refused as a conflict")
@then("the deletion is refused as a conflict")
def then_refused_as_conflict(context: Any) -> None:
    assert_that(context.response, admin_matchers.a_conflict())


def _admin_creates_variant(context: Any, **changes: Any) -> None:
    body = dict(admin_flows.admin_book(context).attempted)
    body.update(changes)
    answer = ensure_admin(context).create_user(**body)
    admin_flows.track_created(context, "user", answer)
    assert_that(answer, all_of(has_status(201), is_user_json()))


def _fresh(context: Any, field: str) -> dict[str, Any]:
    fresh = admin_flows.user_body(context)
    name = _field_name(field)
    return {name: fresh[name]}


@then("an account with the same details but a fresh {field} can be created")
@then("an administrator can create an account with the same details and a fresh {field}")
def then_account_with_fresh_field_can_be_created(context: Any, field: str) -> None:
    _admin_creates_variant(context, **_fresh(context, field))


# ---------------------------------------------------------------------------------------- statistics
@given("the administrator has noted the user statistics")
def given_administrator_noted_user_statistics(context: Any) -> None:
    answer = require(ensure_admin(context).user_stats(), 200, what="note the user statistics")
    admin_flows.admin_book(context).noted["user_stats"] = answer.body


@then("the user statistics count at least one more account, and one more active account")
def then_user_statistics_count_one_more(context: Any) -> None:
    before = admin_flows.admin_book(context).noted["user_stats"]
    assert_that(ensure_admin(context).user_stats(),
                admin_matchers.grew_by_at_least(before, ("total_users", "active_users")))


# ---------------------------------------------------------------------------------------- no secrets
@when("the administrator reads {who:Who}'s account")
def when_administrator_reads_account(context: Any, who: str) -> None:
    context.response = admin_flows.admin_read_user(context, _identity(context, who))


@then("the account is shown without any password or hash")
def then_account_without_password(context: Any) -> None:
    identity = _identity(context, flows.notebook(context).last_actor or "she")
    assert_that(context.response, all_of(has_status(200), is_user_json()))
    assert identity.password not in context.response.text, "the answer contains the password"


@then("the account list shows {who:Who} without any password or hash")
def then_account_list_without_password(context: Any, who: str) -> None:
    identity = _identity(context, who)
    answer = ensure_admin(context).list_users(search=identity.username)
    assert_that(answer, admin_matchers.lists_username(identity.username))
    for user in admin_matchers.items_of(answer, "users"):
        assert_that(user, is_user_json())


# ---------------------------------------------------------------------------------------- own profile
@when("{who:Who} changes {their:Their} own display name and bio")
def when_person_changes_own_profile(context: Any, who: str, their: str) -> None:
    changes = {"display_name": f"{who} the tester", "bio": f"{who} writes acceptance tests"}
    admin_flows.admin_book(context).noted["own_changes"] = changes
    context.response = flows.person(context, who).client.update_me(**changes)
    assert_that(context.response, has_status(200))


@then("{who:Who}'s own profile shows the new display name and bio")
def then_own_profile_shows_changes(context: Any, who: str) -> None:
    changes = admin_flows.admin_book(context).noted["own_changes"]
    assert_that(flows.person(context, who).client.me(), is_user_json(**changes))


@given("{who:Who}'s email address is verified")
def given_persons_email_verified(context: Any, who: str) -> None:
    assert_that(admin_flows.admin_read_user(context, _identity(context, who)), is_user_json(is_verified=True))


@when("{who:Who} changes {their:Their} own email address")
def when_person_changes_own_email(context: Any, who: str, their: str) -> None:
    email = admin_flows.new_email(context)
    admin_flows.admin_book(context).noted["email"] = email
    context.response = flows.person(context, who).client.update_me(email=email)
    assert_that(context.response, has_status(200))
    _identity(context, who).email = email


@then("{who:Who}'s own profile shows the new email address as not verified")
def then_own_profile_new_email_unverified(context: Any, who: str) -> None:
    email = admin_flows.admin_book(context).noted["email"]
    assert_that(flows.person(context, who).client.me(), is_user_json(email=email, is_verified=False))


# ---------------------------------------------------------------------------------------- password
@when("{who:Who} changes {their:Their} password")
def when_person_changes_password(context: Any, who: str, their: str) -> None:
    someone = flows.person(context, who)
    identity = _identity(context, who)
    admin_flows.admin_book(context).noted["old_password"] = identity.password
    context.response = admin_flows.act_on_account(context, someone.client, "change", "password", identity,
                                                  None, own=True)
    assert_that(context.response, has_status(200))


@then("{who:Who} can sign in with {their:Their} new password")
def then_person_signs_in_with_new_password(context: Any, who: str, their: str) -> None:
    assert_that(_fresh_sign_in(context, _identity(context, who), f"{who} again"), is_token_response())


@then("{who:Who}'s old password is refused as invalid_grant")
def then_old_password_refused(context: Any, who: str) -> None:
    identity = _identity(context, who)
    old = admin_flows.admin_book(context).noted["old_password"]
    client = flows.new_device(context.settings, context.log, context.target.base_url, f"{who} with old password")
    context.add_cleanup(client.close)
    assert_that(client.sign_in(identity.username, old), is_oauth_error("invalid_grant", 401))


@when("{who:Who} tries to change {their:Their} password giving a wrong current password")
def when_person_changes_password_wrong_current(context: Any, who: str, their: str) -> None:
    identity = _identity(context, who)
    context.response = flows.person(context, who).client.change_password(
        str(identity.id), flows.wrong_password(identity.password), generate_password())


@then("the password change is refused")
def then_password_change_refused(context: Any) -> None:
    # A.6: 400. The error body's shape is the run-wide rule of error shapes (A.11), not this scenario's.
    assert_that(context.response, has_status(400))


# ---------------------------------------------------------------------------------------- registration
def _register(context: Any, body: dict[str, Any]) -> None:
    """Self-register ``body`` as a newcomer; skip the scenario when the registration budget is spent."""
    admin_flows.admin_book(context).attempted = body
    answer = anonymous(context, "a newcomer").client.register(**body)
    admin_flows.track_created(context, "user", answer)
    reason = registration.registration_budget_spent(answer)
    if reason:
        context.scenario.skip(reason)
    context.response = answer


@when("a newcomer registers and asks for the admin role, an inactive account and a verified email")
def when_newcomer_registers_asking_privileges(context: Any) -> None:
    _register(context, admin_flows.user_body(context, role_ids=[context.identities.role_id("admin")],
                                             is_active=False, is_verified=True))


@then("the newcomer's account is active, not verified and has no roles")
def then_newcomer_account_plain(context: Any) -> None:
    assert_that(context.response, all_of(has_status(201), is_user_json(is_active=True, is_verified=False,
                                                                        is_superuser=False, roles=[])))


@then("the answer shows the newcomer's details and no password")
def then_answer_shows_newcomer(context: Any) -> None:
    body = admin_flows.admin_book(context).attempted
    assert_that(context.response, is_user_json(username=body["username"].lower(), email=body["email"]))
    assert body["password"] not in context.response.text, "the answer contains the password"


@then("the newcomer can sign in with the new password")
def then_newcomer_can_sign_in(context: Any) -> None:
    body = admin_flows.admin_book(context).attempted
    assert_that(anonymous(context, "a newcomer").client.sign_in(body["username"], body["password"]),
                is_token_response())


@when("a newcomer registers with a password {weakness}")
def when_newcomer_registers_weak_password(context: Any, weakness: str) -> None:
    _register(context, admin_flows.user_body(context, password=admin_flows.weak_password(weakness)))


@then("the registration is refused as invalid")
@then("the request is refused as invalid")
def then_refused_as_invalid(context: Any) -> None:
    assert_that(context.response, is_validation_error())


@then("an administrator can create an account with the same details and a strong password")
def then_admin_creates_with_strong_password(context: Any) -> None:
    _admin_creates_variant(context, password=generate_password())


@when("a newcomer registers with {who:Who}'s {field}")
def when_newcomer_registers_with_taken_field(context: Any, who: str, field: str) -> None:
    identity = _identity(context, who)
    name = _field_name(field)
    _register(context, admin_flows.user_body(context, **{name: getattr(identity, name)}))


@when('a newcomer registers with an email address at "{domain}"')
def when_newcomer_registers_with_domain(context: Any, domain: str) -> None:
    body = admin_flows.user_body(context)
    body["email"] = f"{body['username']}@example.{domain}"
    _register(context, body)


@then('an administrator can create an account with the same details at "{domain}"')
def then_admin_creates_at_domain(context: Any, domain: str) -> None:
    body = admin_flows.admin_book(context).attempted
    _admin_creates_variant(context, email=f"{body['username']}@{domain}")


@when("newcomers keep registering from the same address until the limit answers")
def when_newcomers_register_until_limited(context: Any) -> None:
    admin_flows.admin_book(context).noted["registrations"] = registration.newcomers_register_until_limited(context)


@then("the registration is refused as rate_limit_exceeded")
def then_registration_refused_by_limit(context: Any) -> None:
    # Retry-After on every 429 is a rule of its own (headers_and_hygiene), not this scenario's (D9)
    run: registration.RegistrationRun = admin_flows.admin_book(context).noted["registrations"]
    assert run.refusal is not None, run.summary()
    assert_that(run.refusal, admin_matchers.refused_by_the_registration_limit(retry_after=False))


@then("the newcomers who registered before the limit can sign in")
def then_registered_newcomers_can_sign_in(context: Any) -> None:
    run: registration.RegistrationRun = admin_flows.admin_book(context).noted["registrations"]
    if run.budget_was_spent:
        print(run.summary())
        return
    for number, body in enumerate(run.accepted, start=1):
        client = flows.new_device(context.settings, context.log, context.target.base_url, f"newcomer {number}")
        context.add_cleanup(client.close)
        assert_that(client.sign_in(body["username"], body["password"]), is_token_response())
