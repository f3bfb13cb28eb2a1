@auth @destructive @contract.A5 @allure.issue:D3
Feature: Wrong passwords tried while an account is disabled are not held against it
  An administrator may close an account for a while, for instance while its owner is away. Anyone who
  keeps trying passwords on it meanwhile is refused like any wrong password, but those attempts must not
  count towards locking it: the account was already closed, and counting them would lock its owner out
  on the very day it is opened again.

  The account is a throwaway made for the scenario; the number of attempts is the deployment's lockout
  threshold, so that the same attempts on an open account would lock it.

  Scenario: Wrong passwords tried while an account is disabled do not lock it once it is enabled again
    Given the administrator has disabled Dana's account
    And Mallory has guessed Dana's password wrongly as often as the lockout threshold allows
    And the administrator has enabled Dana's account again
    When Dana signs in with her password
    Then Dana is signed in
