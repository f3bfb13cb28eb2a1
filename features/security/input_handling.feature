# @SERIAL: behavex runs this feature alone; "the number of users is unchanged" cannot hold while other
# workers create and delete their throwaway accounts on the same target.
@security @SERIAL
Feature: Hostile input is refused and changes nothing
  Every field and address an outsider can fill in is a way in: SQL and NoSQL injection, Unicode
  look-alikes and control characters, null bytes, and values or bodies far beyond any sensible size.
  Permiso treats them as data: it refuses what its rules do not allow as the caller's fault (4xx),
  never fails with a server error (5xx), and nothing changes - no account appears or disappears, and
  the people the input was aimed at can still sign in.

  Add a row to any Examples table to try another hostile value: the names are looked up in the
  suite's catalogue (support/domains/security_checks.py PAYLOADS), anything else is used literally.

  Sources: OWASP API8:2023 and API4:2023 (unrestricted resource consumption), ASVS 5.0 V1/V2.

  Background:
    Given Dana has an account
    And the configured administrator has read the user statistics

  @critical
  Scenario Outline: A hostile username at sign-in is refused: <input>
    When Mallory signs in with the <input> as the username and Dana's password
    Then the hostile request is refused as a client error
    And the number of users is unchanged
    And Dana can still sign in with her password

    Examples:
      | input                       |
      | SQL tautology               |
      | SQL comment                 |
      | SQL stacked query           |
      | NoSQL operator              |
      | right-to-left override      |
      | fullwidth letters           |

    @allure.issue:D33
    Examples: answered 500 by the release
      | input                       |
      | null byte                   |
      | over-long (300 characters)  |
      | huge (100 000 characters)   |

  Scenario Outline: A hostile username for a new account is refused: <input>
    When the administrator creates an account with the <input> as the username
    Then the hostile request is refused as a client error
    And the number of users is unchanged
    And Dana can still sign in with her password

    Examples:
      | input                       |
      | SQL stacked query           |
      | NoSQL operator object       |
      | null byte                   |
      | zero-width joiner           |
      | combining marks             |
      | emoji                       |
      | script tag                  |
      | over-long (300 characters)  |

  Scenario Outline: A hostile email address for a new account is refused: <input>
    When the administrator creates an account with the <input> as the email address
    Then the hostile request is refused as a client error
    And the number of users is unchanged

    Examples:
      | input                       |
      | SQL tautology               |
      | NoSQL operator object       |
      | null byte                   |
      | CRLF injection              |
      | script tag                  |
      | huge (100 000 characters)   |

  Scenario Outline: A hostile search text finds nobody and breaks nothing: <input>
    When the administrator searches the users for the <input>
    Then the search finds nobody or is refused
    And the number of users is unchanged

    Examples:
      | input                       |
      | SQL tautology               |
      | SQL union                   |
      | NoSQL regex                 |
      | template expression         |
      | huge (100 000 characters)   |

    @allure.issue:D33
    Examples: answered 500 by the release
      | input                       |
      | null byte                   |

  Scenario Outline: A hostile user id in the address is refused: <input>
    When the administrator looks up the user whose id is the <input>
    Then the hostile request is refused as a client error
    And the number of users is unchanged

    Examples:
      | input                       |
      | SQL tautology               |
      | path traversal              |
      | null byte                   |
      | log4shell lookup            |
      | over-long (300 characters)  |

  @critical
  Scenario: An oversized request body is refused
    When the administrator sends a request to create an account that is 2 MB large
    Then the hostile request is refused as a client error
    And the number of users is unchanged
    And Dana can still sign in with her password

  # A.6: reset and verification tokens are only ever mailed, so a token Mallory presents is one she
  # made up (or an old one): it is refused as the caller's fault, and Dana's account is untouched.
  @allure.issue:D11
  Scenario Outline: A forged or expired <purpose> token is refused as invalid_token
    When Mallory confirms a <purpose> for Dana with a made-up token
    Then the confirmation is refused as invalid_token, revealing nothing
    And the number of users is unchanged
    And Dana can still sign in with her password

    Examples:
      | purpose            |
      | password reset     |
      | email verification |
