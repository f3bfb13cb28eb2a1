@security @contract.A3 @contract.A6
Feature: Sign-in answers do not reveal which accounts exist
  If a failed sign-in for an existing account looks, or takes, any different from one for an account
  that does not exist, an attacker can harvest the list of accounts and then aim password guessing at
  real ones. So a wrong password and an unknown account get the same status, the same body and the same
  Bearer challenge, and their answer times cannot be told apart by a statistical comparison over many
  samples. Asking for a password reset does not reveal whether an email address is registered either.

  Sources: OWASP ASVS 5.0 V6 (authentication), OWASP API2:2023.

  @critical
  Scenario Outline: A wrong password and an unknown <identifier> get the same answer
    Given Dana has an account
    When Mallory signs in with Dana's <identifier> and a wrong password, then with an unknown <identifier>
    Then both attempts are refused as invalid_grant
    And the two refusals cannot be told apart
    And Dana can still sign in with her password

    Examples:
      | identifier    |
      | username      |
      | email address |

  # Interleaved samples of both kinds; "different" needs a significant Mann-Whitney test AND medians
  # more than 15 ms and 5 % apart, so noise on a clean target cannot fail it while a skipped password
  # hash (tens of milliseconds) is caught.
  @destructive @allure.issue:D29
  Scenario: A wrong password and an unknown user take the same time to answer
    Given Dana has an account
    When Mallory times many wrong-password sign-ins as Dana against sign-ins as someone who has no account
    Then every timed attempt was refused as invalid_grant
    And the answer times of the two kinds cannot be told apart

  Scenario: Asking for a password reset does not reveal whether an address is registered
    Given Dana has an account
    When Mallory asks for a password reset for Dana's email address and for an unregistered address
    Then both password-reset answers are the same
    And Dana can still sign in with her password
