@admin
Feature: Sessions: each sign-in is a session the person can see, renew and end
  Every sign-in starts a session. A person sees their active sessions, can renew one to keep it
  alive longer, and can end one (for example a lost phone) without signing out anywhere else. An
  administrator reads session statistics and removes sessions that have expired or ended.

  Where today's Permiso is known to fall short: sessions must name the person's user id, and ending
  a session must stop that session's tokens (decisions.md: sessions gate tokens).

  @allure.issue:D18
  Scenario: A sign-in starts a session the person can see
    Given Dana has signed in
    When Dana lists her sessions
    Then Dana's current session is among them
    And the session names Dana's user id and when it expires

  @allure.issue:D2
  Scenario: Renewing a session makes it last longer
    Given Dana has signed in
    When Dana renews her current session
    Then the session now expires later than before

  @allure.issue:D18
  Scenario: Ending the session of a lost phone leaves the laptop signed in
    Given Dana has signed in on her laptop and on her phone
    When Dana ends her phone's session from her laptop
    Then the phone's old access token is refused
    And the laptop's access token is still accepted

  @allure.issue:D18
  Scenario: Ending all other sessions keeps the current one
    Given Dana has signed in on her laptop and on her phone
    When Dana ends all her other sessions from her laptop
    Then the phone's old access token is refused
    And the laptop's access token is still accepted

  Scenario: Ending a session that does not exist is answered as not found
    Given Dana has signed in
    When Dana tries to end a session that does not exist
    Then the answer is that the session was not found
    And Dana's access token is accepted

  @allure.issue:D1
  Scenario: The administrator reads the session statistics
    Given Dana has signed in
    When the administrator reads the session statistics
    Then the statistics count at least one active session and one person with a session

  @allure.issue:D1
  Scenario: The administrator's cleanup removes ended sessions but not live ones
    Given Dana has signed in on her laptop and on her phone
    And Dana has ended her phone's session from her laptop
    When the administrator cleans up expired and ended sessions
    Then the cleanup says how many sessions it removed
    And the laptop's access token is still accepted
    And the phone's old access token is refused
