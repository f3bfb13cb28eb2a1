@admin
Feature: Administrators manage user accounts; people manage their own profile
  An administrator creates accounts, finds them by name or email, changes, disables, enables and
  deletes them, and reads statistics about them. A person reads and changes their own profile and
  password. A deleted account is gone for good: no sign-in, and no token issued before keeps working.
  No answer ever contains a password or its hash.

  Every account in these scenarios is a throwaway created for the scenario and deleted after it.

  @critical
  Scenario: An administrator creates an account that can sign in at once
    When the administrator creates an account for Erin
    Then the new account is shown with Erin's details and no password
    And Erin can sign in with her password

  Scenario Outline: The administrator finds an account by its <clue>
    Given Erin has an account
    And Dana has an account
    When the administrator searches the accounts for Erin's <clue>
    Then Erin is among the accounts found
    And Dana is not among the accounts found

    Examples:
      | clue          |
      | username      |
      | email address |

  Scenario: The administrator lists only the disabled accounts when asked to
    Given Erin has an account
    And the administrator has disabled Dana's account
    When the administrator lists the disabled accounts
    Then Dana is among the accounts found
    And Erin is not among the accounts found

  Scenario: The account list comes in pages
    Given Erin has an account
    And Dana has an account
    When the administrator lists the accounts 1 per page
    Then each page holds at most 1 account and the pages add up to the total

  @critical
  Scenario: An administrator changes a person's profile
    Given Erin has an account
    When the administrator changes Erin's display name
    Then Erin's account shows the new display name

  @destructive
  Scenario: A disabled account is shown as inactive, and enabled again it can sign in
    Given Erin has signed in
    When the administrator disables Erin's account
    Then the administrator sees Erin's account as inactive
    And the administrator can enable Erin's account again
    And Erin can sign in with her password

  @critical @destructive
  Scenario: A deleted account can neither sign in nor use a token it was given before
    Given Erin has signed in
    And Erin's access token is accepted
    When the administrator removes Erin's account
    Then the administrator no longer finds Erin's account
    And Erin's sign-in is refused as invalid_grant
    And Erin's old access token is refused

  Scenario Outline: An account cannot be created with a <field> that is already taken
    Given Erin has an account
    When the administrator creates another account with Erin's <field>
    Then the creation is refused as a conflict
    And an account with the same details but a fresh <field> can be created

    Examples:
      | field         |
      | username      |
      | email address |

  Scenario: The user statistics count an account created just now
    Given the administrator has noted the user statistics
    When the administrator creates an account for Erin
    Then the user statistics count at least one more account, and one more active account

  Scenario: No answer about an account shows its password or a hash of it
    Given Erin has an account
    When the administrator reads Erin's account
    Then the account is shown without any password or hash
    And the account list shows Erin without any password or hash

  Scenario: A person reads and changes their own profile
    Given Dana has signed in
    When Dana changes her own display name and bio
    Then Dana's own profile shows the new display name and bio

  Scenario: A new email address has to be verified again
    Given Dana has signed in
    And Dana's email address is verified
    When Dana changes her own email address
    Then Dana's own profile shows the new email address as not verified

  Scenario: After a password change only the new password works
    Given Dana has signed in
    When Dana changes her password
    Then Dana can sign in with her new password
    And Dana's old password is refused as invalid_grant

  Scenario: A password change with a wrong current password is refused
    Given Dana has signed in
    When Dana tries to change her password giving a wrong current password
    Then the password change is refused
    And Dana can still sign in with her password
