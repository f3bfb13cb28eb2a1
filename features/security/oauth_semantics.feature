@security @contract.A3 @contract.A11
Feature: Token endpoints, revocation and introspection behave like an OAuth server
  Apps talk to Permiso's token endpoints with standard OAuth clients, so a refusal must use the
  standard error codes and shape, a token answer must never be cached on the way, a revoked token
  must stop working at once and be reported inactive, and revoking an unknown token is acknowledged
  rather than explained (so revocation cannot be used to test tokens). Malformed requests are the
  caller's fault (4xx) and never echo what was sent.

  Sources: RFC 6749 (sections 5.1 and 5.2), RFC 6750, RFC 7009 (revocation), RFC 7662 (introspection).
  Today's Permiso is known to accept refresh tokens where access tokens belong, to report revoked
  tokens as active, and to refuse a caller who is not signed in without a Bearer challenge.

  Scenario Outline: A sign-in request without <missing> is refused as a validation error
    Given Dana has an account
    When Dana sends a sign-in request without <missing>
    Then the request is refused as a validation error
    And Dana can still sign in with her password

    Examples:
      | missing        |
      | the username   |
      | the password   |
      | any field      |

  Scenario Outline: A token request in the wrong format is refused: <request>
    Given Dana has an account
    When Dana sends <request>
    Then the request is refused as a validation error
    And Dana can still sign in with her password

    Examples:
      | request                                          |
      | a sign-in as JSON instead of a form              |
      | a service-token request as JSON instead of a form |

    @allure.issue:D33
    Examples: a refresh sent as a form
      | request                                          |
      | a refresh as a form instead of JSON              |

  @critical
  Scenario Outline: Wrong credentials are refused with the OAuth error <code>
    Given Dana has an account
    When Mallory asks for a token with <credentials>
    Then the token request is refused with the error <code>
    And Dana can still sign in with her password

    Examples:
      | credentials                               | code           |
      | Dana's username and a wrong password      | invalid_grant  |
      | Dana's email address and a wrong password | invalid_grant  |
      | a refresh token that was never issued     | invalid_grant  |
      | an unknown service client                 | invalid_client |

  @rfc_strict @minor @allure.issue:D34
  Scenario: A grant type other than the password grant is refused as unsupported_grant_type
    Given Dana has an account
    When Dana signs in asking for the client_credentials grant type
    Then the token request is refused as unsupported_grant_type with status 400
    And Dana can still sign in with her password

  @critical @allure.issue:D8
  Scenario: A revoked token is reported inactive, a current one active
    Given Dana has signed in
    And Erin has signed in
    When Dana revokes her access token
    Then introspecting Dana's old access token shows it inactive
    And introspecting Erin's access token shows it active

  Scenario Outline: A token that is not valid introspects as inactive: <token>
    Given Dana has signed in
    When Dana introspects <token>
    Then the introspection shows the token inactive
    And introspecting Dana's access token shows it active

    Examples:
      | token                                   |
      | a garbage string                        |
      | her access token with the algorithm none |
      | her access token signed with another key |

  Scenario: Revoking a token that was never issued is acknowledged without a hint
    Given Dana has signed in
    When Dana revokes a token that was never issued
    Then the revocation is acknowledged
    And Dana's access token is accepted

  @critical
  Scenario Outline: Nobody can <action> without a bearer token
    Given Dana has signed in
    When a visitor who is not signed in asks to <action>
    Then the visitor is told to sign in first
    And the same request with Dana's access token is answered

    Examples:
      | action                 |
      | introspect a token     |
      | revoke a token         |
      | see who is signed in   |
      | list the sessions      |
