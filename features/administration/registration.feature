@admin @needs.registration @contract.PartB
Feature: Newcomers register themselves
  Anyone may register an account: it starts active, not yet verified and without roles, whatever the
  request claims. A password must be 8 to 128 characters with an upper-case letter, a lower-case
  letter, a digit and a special character. Usernames and email addresses are unique. Email addresses
  must be deliverable-looking: special-use domains such as .test, .local or .invalid are refused.

  Registration is limited to 3 accounts per hour per client address. These scenarios register at most
  one account when Permiso behaves; refusals do not count against the limit. When the limit is already
  spent, a scenario is skipped and says so instead of failing. The last scenario spends the rest of
  the budget on purpose, so it stays last: it registers until the limit answers (at most one more than
  the limit), and when the budget was already spent before it started, the limit's first answer is all
  it can check, and it says so.

  Where the guide differs from the contract: the guide's test addresses end in @permiso.test, which
  the contract refuses; throwaway accounts use @example.com.

  Scenario: A newcomer registers and gets an active, unverified account without roles
    When a newcomer registers and asks for the admin role, an inactive account and a verified email
    Then the newcomer's account is active, not verified and has no roles
    And the answer shows the newcomer's details and no password
    And the newcomer can sign in with the new password

  Scenario Outline: A password <weakness> is refused at registration
    When a newcomer registers with a password <weakness>
    Then the registration is refused as invalid
    And an administrator can create an account with the same details and a strong password

    Examples:
      | weakness                     |
      | too short                    |
      | without an upper-case letter |
      | without a lower-case letter  |
      | without a digit              |
      | without a special character  |
      | too long                     |

  Scenario Outline: Registering with a <field> that is already taken is refused
    Given Erin has an account
    When a newcomer registers with Erin's <field>
    Then the registration is refused as a conflict
    And an administrator can create an account with the same details and a fresh <field>

    Examples:
      | field         |
      | username      |
      | email address |

  Scenario Outline: An email address at a special-use domain like <domain> is refused
    When a newcomer registers with an email address at "<domain>"
    Then the registration is refused as invalid
    And an administrator can create an account with the same details at "example.com"

    Examples:
      | domain    |
      | test      |
      | local     |
      | localhost |
      | invalid   |
      | onion     |
      | arpa      |

  Scenario: Registering more often than the hourly limit allows is refused
    When newcomers keep registering from the same address until the limit answers
    Then the registration is refused as rate_limit_exceeded
    And the newcomers who registered before the limit can sign in
