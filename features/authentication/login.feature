@auth
Feature: Signing in
  A person signs in with their username (or email address) and password and receives a short-lived
  access token, a refresh token and a session. The token tells every other service who the person
  is and what they may do, so it must be well-formed and carry exactly the expected claims.
  A failed sign-in must not tell an attacker whether the account exists, and an account that an
  administrator has disabled must stop working at once: no new sign-in, no old token.

  Where the guide's expectation differs from the contract: the guide only asks that invalid
  credentials are refused "with error information". The contract requires that a wrong password
  and an unknown user are refused identically (401 invalid_grant, same body, Bearer challenge),
  so that the answer does not reveal which accounts exist.

  @critical
  Scenario: Signing in gives a well-formed token response
    Given Dana has an account with the "user" role
    When Dana signs in with her password
    Then Dana receives a well-formed token response
    And Dana's access token names her and carries her roles and scopes

  @critical
  Scenario: The current user is the person who signed in
    Given Dana has signed in
    When Dana asks who is signed in
    Then she is shown her own account
    And her account shows no password

  Scenario: A person can sign in with their email address instead of their username
    Given Dana has an account
    When Dana signs in with her email address and password
    Then Dana receives a well-formed token response

  @critical
  Scenario: A wrong password and an unknown user are refused identically
    Given Dana has an account
    When Mallory tries a wrong password for Dana and a username nobody has
    Then both attempts are refused as invalid_grant
    And the two refusals cannot be told apart
    And Dana can still sign in with her password

  # The configured account is shared by everyone who tests this deployment: the suite never signs it
  # out (a sign-out ends every session of the account, also other people's, contract D.3); it hands
  # back the token it was given instead.
  @critical @needs.configured_user
  Scenario: The configured user's everyday journey: sign in, see who is signed in, hand the token back
    Given the configured user has signed in
    When the configured user asks who is signed in
    Then the configured user is shown their own account
    And the configured user can revoke their own access token
    And the configured user's old access token is refused

  @destructive
  Scenario: A disabled account cannot sign in, and its tokens stop working
    Given Dana has signed in
    And Dana's access token is accepted
    And the administrator has disabled Dana's account
    When Dana signs in with her password
    Then the sign-in is refused because the account is disabled
    And Dana's old access token is refused
