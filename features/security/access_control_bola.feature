@admin
Feature: People can only see and change their own account and sessions
  A signed-in person may read and change their own profile, change their own password and manage
  their own sessions. Knowing someone else's user id or session id must not let them do any of that
  to another person's account: Permiso refuses (403) and the other account stays exactly as it was.
  Deleting an account is for administrators only.

  Why: broken object-level authorization (OWASP API1:2023) is the most common API flaw; ids are
  visible in URLs, tokens and logs, so they are not secrets.

  Background:
    Given Dana has signed in
    And Erin has signed in

  Scenario Outline: Dana cannot <action> Erin's <thing>
    When Dana tries to <action> Erin's <thing>
    Then Dana's attempt is refused as not allowed
    And Erin's <thing> is untouched
    And Dana can still <action> her own <thing>

    @critical
    Examples: profiles and passwords
      | action | thing    |
      | read   | profile  |
      | change | profile  |
      | change | password |

    Examples: sessions
      | action | thing   |
      | end    | session |

    @allure.issue:D2
    Examples: renewing a session
      | action | thing   |
      | renew  | session |

  @destructive
  Scenario: Dana cannot delete Erin's account
    When Dana tries to delete Erin's account
    Then Dana's attempt is refused as not allowed
    And Erin's account is untouched

  Scenario: Dana's list of sessions shows only her own
    When Dana lists her sessions
    Then Dana's current session is among them
    And none of Erin's sessions is among them
