@auth
Feature: Signing out
  Signing out on a device must end that device's session for good: its access token becomes
  useless at once, and no refresh token of the person can be used to get a new one. Sessions on
  the person's other devices keep their access tokens until those expire, so signing out on a
  laptop does not throw the person out of their phone.

  Where the guide's expectation differs from the contract: the guide's user flow only checks that
  the old token is refused after signing out. The contract adds that every refresh token of the
  person is refused too (otherwise a stolen refresh token outlives the sign-out), and that another
  session of the same person is not affected (decisions: logout ends the presented session).

  @critical
  Scenario: Signing out makes that access token useless
    Given Dana has signed in
    And Dana's access token is accepted
    When Dana signs out
    Then Dana is told she was signed out
    And Dana's old access token is refused

  @critical
  Scenario: Signing out on one device leaves the other device signed in
    Given Dana has signed in on her laptop and on her phone
    When Dana signs out on her laptop
    Then the laptop's old access token is refused
    And the phone's access token is still accepted

  @critical
  Scenario: After signing out, none of the person's refresh tokens work
    Given Dana has signed in on her laptop and on her phone
    And Erin has signed in
    When Dana signs out on her laptop
    Then the laptop's refresh token is refused as invalid_grant
    And the phone's refresh token is refused as invalid_grant
    And Erin can still refresh her session

  Scenario: Only someone who is signed in can sign out
    Given Dana has signed in
    When a visitor who is not signed in tries to sign out
    Then the visitor is told to sign in first
    And Dana can still sign out
