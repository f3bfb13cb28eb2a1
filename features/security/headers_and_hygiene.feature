@security
Feature: Every answer is hardened, and error answers reveal nothing of the server
  Browsers, proxies and OAuth clients handle Permiso's answers, so a few rules hold for every answer,
  whatever question provoked it:
  - a refusal of a missing or bad token says how to authenticate (the challenge of the WWW-Authenticate
    header names the Bearer scheme), and a refusal for asking too often says when to retry;
  - a token answer is never kept in a cache on the way;
  - every answer - success, refusal, error or redirect - carries the security headers (and HSTS over
    HTTPS) and names no server software or version;
  - an error answer has the contract's error shape and tells the caller what was wrong with the
    request, never how the server is built (no traceback, exception text, SQL or file path), and never
    gives back the submitted values (a password in an error body ends up in logs);
  - foreign web sites may not read answers with a person's credentials.

  Each rule is stated by the scenarios below, which fail when it is broken. The whole run also watches
  every answer it receives against these rules and reports each broken rule once, with examples, in
  the sign-off summary - it never fails a scenario about something else.

  Sources: the contract's layout, auth and error sections; RFC 6749 (5.1, 5.2), RFC 6750 (3),
  RFC 9110 (Retry-After), OWASP API8:2023 (security misconfiguration), ASVS 5.0 V3/V16.

  @contract.A2 @contract.A11 @allure.issue:D9
  Scenario Outline: Every refusal of a missing or bad token says how to authenticate: <refusal>
    Given Dana has an account
    When someone is refused for <refusal>
    Then the refusal says how to authenticate
    And Dana can still sign in with her password

    @critical
    Examples:
      | refusal                                  |
      | asking who is signed in without a token  |
      | signing in as Dana with a wrong password |

    Examples:
      | refusal                                  |
      | presenting a token that is garbage       |
      | presenting a token signed with another key |
      | refreshing with a token never issued     |

  @contract.A11 @allure.issue:D9 @needs.registration
  Scenario: A rate-limited registration says when to retry
    When newcomers register from the same address until the hourly limit answers
    Then the limit's refusal says when to retry

  @contract.A3 @allure.issue:D28
  Scenario Outline: Token answers are never cached: <grant>
    Given Dana has signed in
    When a token answer comes back for <grant>
    Then the token answer may not be cached

    @critical
    Examples:
      | grant                          |
      | Dana's sign-in                 |

    Examples:
      | grant                          |
      | Dana's refresh                 |
      | the suite's service client     |

  @critical @contract.A1
  Scenario Outline: <answer> carries the security headers
    When someone receives <answer>
    Then the answer carries the contract's security headers, HSTS included

    Examples:
      | answer                                  |
      | a health report                         |
      | a token answer                          |
      | a newly created account                 |
      | an answer without content               |
      | a refusal for a missing token           |
      | a refusal for a missing permission      |
      | an answer for an unknown address        |
      | an answer for a wrong method            |
      | a validation error                      |

    @allure.issue:F1
    Examples: refused by the front
      | answer                                  |
      | a refusal of an oversized body          |

  @contract.A1
  Scenario Outline: <answer> names no server software or version
    When someone receives <answer>
    Then the answer names no server software or version

    Examples:
      | answer                                  |
      | a health report                         |
      | a token answer                          |
      | a refusal for a missing token           |
      | an answer for an unknown address        |

  @contract.A11
  Scenario Outline: An error answer has the contract's error shape: <answer>
    When someone receives <answer>
    Then the answer has the contract's error shape

    Examples:
      | answer                                  |
      | a refusal for a missing token           |
      | a refusal for a missing permission      |
      | an answer for an unknown address        |
      | a validation error                      |
      | a refusal of a taken username           |
      | an answer for an unknown account        |

  @critical @contract.A11 @allure.issue:D10
  Scenario Outline: A provoked error reveals nothing of the server's internals: <provocation>
    Given Dana has an account
    When Mallory provokes an error with <provocation>
    Then the answer reveals nothing of the server's internals
    And Dana can still sign in with her password

    Examples:
      | provocation                              |
      | a null byte in the username at sign-in   |
      | an over-long username at sign-in         |
      | a body that is not JSON                  |
      | a JSON body of the wrong shape           |
      | a user id that is not a UUID             |
      | a page number far too large              |

  @critical @contract.A11 @allure.issue:D10
  Scenario: A new account's password refused by the policy is not echoed back
    When the administrator creates an account whose password breaks the policy
    Then the refusal gives back nothing that was sent

  @contract.A11 @allure.issue:D10
  Scenario: A password change refused by the policy echoes neither password
    Given Dana has signed in
    When Dana changes her password to one that breaks the policy
    Then the refusal gives back nothing that was sent
    And Dana can still sign in with her password

  @critical @allure.issue:D16
  Scenario: A foreign web site cannot read a person's data with her credentials
    Given Dana has signed in
    When a page of a foreign web site asks for Dana's account with her access token
    Then the answer does not let the foreign web site read it
    And Dana's access token is accepted

  @allure.issue:D16
  Scenario: A foreign web site's preflight request is not approved
    Given Dana has signed in
    When a page of a foreign web site asks permission to call the API with credentials
    Then the answer does not let the foreign web site read it
    And Dana's access token is accepted
