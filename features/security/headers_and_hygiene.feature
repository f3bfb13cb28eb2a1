@security
Feature: Every answer is hardened, and error answers reveal nothing of the server
  Browsers and proxies handle Permiso's answers, so every answer - success, refusal, error or
  redirect - carries the contract's security headers (and HSTS over HTTPS), and none names the server
  software or its version. An error answer tells the caller what was wrong with the request, never how
  the server is built: no traceback, exception text, SQL or file path, and never the submitted values
  (a password in an error body ends up in logs). Foreign web sites may not read answers with a
  person's credentials.

  These rules are also checked on every answer the whole run sees, whichever feature provoked it:
  a scenario that receives a bad answer fails at the step that received it.

  Sources: contract A.1 and A.11, OWASP API8:2023 (security misconfiguration), ASVS 5.0 V3/V16.
  Part C defects: D10 (tracebacks, echoed values), D16 (CORS), F1 (headers dropped on HTTPS).

  @critical
  Scenario Outline: <answer> carries the security headers and names no server software
    When someone receives <answer>
    Then the answer carries the contract's security headers, HSTS included
    And the answer names no server software or version

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
      | a refusal of an oversized body          |

  @critical
  Scenario Outline: A provoked error reveals nothing of the server's internals: <provocation>
    Given Dana has an account
    When Mallory provokes an error with <provocation>
    Then the answer is a client error that reveals nothing of the server's internals
    And Dana can still sign in with her password

    Examples:
      | provocation                              |
      | a null byte in the username at sign-in   |
      | an over-long username at sign-in         |
      | a body that is not JSON                  |
      | a JSON body of the wrong shape           |
      | a user id that is not a UUID             |
      | a page number far too large              |

  @critical
  Scenario: A password refused by validation is not echoed back
    Given Dana has an account
    When Mallory signs in as Dana with a password far longer than any password may be
    Then the request is refused as a validation error that echoes nothing that was sent
    And Dana can still sign in with her password

  Scenario: A new account's password refused by the policy is not echoed back
    When the administrator creates an account whose password breaks the policy
    Then the request is refused as a validation error that echoes nothing that was sent

  @critical
  Scenario: A foreign web site cannot read a person's data with her credentials
    Given Dana has signed in
    When a page of a foreign web site asks for Dana's account with her access token
    Then the answer does not let the foreign web site read it
    And Dana's access token is accepted

  Scenario: A foreign web site's preflight request is not approved
    Given Dana has signed in
    When a page of a foreign web site asks permission to call the API with credentials
    Then the answer does not let the foreign web site read it
    And Dana's access token is accepted
