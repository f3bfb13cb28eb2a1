@infrastructure @contract.PartB
Feature: The service and the stores behind it are up
  Before anyone signs in, a release engineer needs to know three things: Permiso answers and says
  it is healthy, its database answers, and its session store (the cache that remembers which
  tokens were signed out) works. Each check has a response-time budget from the deployment guide.

  Where the guide's expectation differs from the contract: the guide treats "a user can sign in
  and sign out" as proof that the cache works. Signing in works even when the cache is down, so
  here the proof is that a signed-out token is refused afterwards.

  @critical
  Scenario: The service says it is healthy, within the health budget
    When a visitor asks the service whether it is healthy
    Then the service reports that it is healthy
    And the typical answer came within the health budget

  @critical @needs.admin
  Scenario: The database answers through the user statistics, within the CRUD budget
    When the configured administrator reads the user statistics
    Then the statistics tell how many users there are
    And the typical answer came within the CRUD budget

  @needs.admin
  Scenario: The database records a new account at once
    Given the configured administrator has read the user statistics
    When a new account is created for Erin
    Then the user statistics count at least one more user than before

  @critical
  Scenario: The session store remembers that a session was signed out
    Given Dana has signed in
    And Dana's access token is accepted
    When Dana signs out
    Then Dana's old access token is refused
