@tokens
Feature: Refreshing a session
  Access tokens live for minutes; a refresh token lets an app get a new pair without asking the
  person for their password again. Each refresh token works once: refreshing hands out a new pair
  and the used refresh token is refused from then on, so a stolen copy is worthless after the next
  refresh. A refresh token only refreshes: it is never accepted in place of an access token, and
  it stops working when the person signs out. A refresh never grants more than the original
  sign-in did, and an expired access token is refused however correctly it is signed.

  Where the guide's expectation differs from the contract: the guide only checks that refreshing
  gives an access token different from the old one. The contract adds rotation (the old refresh
  token is refused), the refusal of refresh tokens as access tokens and after sign-out (both known
  defects of today's Permiso), and that the originally granted scopes are kept.

  @critical
  Scenario: Refreshing gives a new pair of tokens, and the new access token works
    Given Dana has signed in
    When Dana refreshes her session
    Then Dana receives a new access token and a new refresh token
    And Dana's new access token is accepted

  @critical
  Scenario: A refreshed session can no longer use its old refresh token
    Given Dana has signed in
    When Dana refreshes her session
    Then Dana receives a new access token and a new refresh token
    And the previous refresh token is refused

  @critical @allure.issue:D5
  Scenario: A refresh token is not accepted in place of an access token
    Given Dana has signed in
    When Dana presents her refresh token as if it were an access token
    Then the refresh token is refused as not signed in
    And Dana's access token is accepted

  @critical @needs.signing_key
  Scenario: An expired access token is refused, however correctly it is signed
    Given Mallory holds a correctly signed copy of Dana's access token that has expired
    When Mallory uses the expired token to ask who is signed in
    Then the expired token is refused as not signed in
    And the same token with an expiry in the future is accepted

  @critical
  Scenario: After signing out, the refresh token no longer works
    Given Dana has signed in
    And Erin has signed in
    And Dana has signed out
    When Dana refreshes her session
    Then the refresh is refused as invalid_grant
    And Erin can still refresh her session

  Scenario: A refresh keeps the scopes of the original sign-in
    Given Dana has an account with the "user" role
    And Dana has signed in asking only for the scope "read:profile"
    When Dana refreshes her session
    Then Dana's new access token carries only the scope "read:profile"
