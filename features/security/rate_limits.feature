# @SERIAL: behavex runs this feature alone; its floods trip the per-IP limit every worker shares.
@security @SERIAL @contract.A5 @contract.PartB
Feature: Sign-in endpoints slow down a flood of attempts
  Password guessing and credential stuffing depend on trying many times quickly. The front limits
  how often one client may call the sign-in endpoints (5 per second with a burst of 10, answered
  with 503; the app's own limits answer 429). A flood of attempts within the test window (a minute
  by default) meets that limit: the test's number of attempts (10 by default), or as many more as it
  takes to outrun the front's burst on a slow machine (never more than 100). Against a target without
  a limiter (the embedded reference server, unless the settings give it one) those scenarios are
  skipped with the reason. Whatever the limiter, guessing the
  password of one account ends in a lock or a limit.

  Only throwaway accounts, and names no account has, are used: never the configured accounts.

  Sources: OWASP API4:2023 and API2:2023, ASVS 5.0 V6.3.

  @needs.auth_rate_limit
  Scenario Outline: A flood of attempts at <target> meets the rate limit
    Given Dana has an account
    When Mallory floods <target> with attempts within the test window
    Then the flood meets the rate limit within the test window
    And once the flood is over, Dana can sign in again

    Examples:
      | target                      |
      | the sign-in endpoint        |
      | the service-token endpoint  |
      | the refresh endpoint        |

  @destructive @allure.issue:D2
  Scenario: Guessing one account's password ends in a lock or a limit
    Given Dana has an account
    And Erin has an account
    When Mallory guesses Dana's password as fast as she can, as often as the test size says
    Then none of Mallory's guesses was accepted
    And Dana's correct password is stopped as account_locked or rate_limit_exceeded
    And Erin can still sign in with her password
