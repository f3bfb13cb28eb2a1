@admin @allure.issue:D1
Feature: An administrator manages the life of a service client
  An administrator registers a service client with the scopes it needs. Its secret is shown exactly
  once, in the answer to the registration, and never again: not in the client's details, not in the
  list. The administrator can rotate the secret (the old one stops working at once), change the
  client's scopes (its next token reflects them), store its rate limits, disable it and delete it.

  Every client here is a throwaway, removed after the scenario; the configured client is never changed.

  Scenario: A new client's secret is shown once and never again
    When the administrator registers a service client with the scope "service:api"
    Then the answer shows the client's secret once
    And neither the client's details nor the client list show the secret
    And the client gets a token with that secret

  Scenario: After rotation only the new secret works
    Given a service client that owns the scope "service:api"
    When the administrator rotates the client's secret
    Then the client gets a token with the new secret
    And the old secret is refused as invalid_client

  Scenario: Rotation needs the current secret
    Given a service client that owns the scope "service:api"
    When the administrator tries to rotate the client's secret giving a wrong current secret
    Then the rotation is refused as invalid_secret
    And the service client can still get a token with its own secret

  Scenario: A change of scopes shows in the client's next token
    Given a service client that owns the scope "service:api"
    And the administrator has given the client the scopes "service:api" and "service:mt5"
    When the service client asks for a token
    Then the service token carries exactly the scopes "service:api" and "service:mt5"

  Scenario Outline: A client's rate limits of <per minute> a minute and <per hour> an hour are stored
    When the administrator registers a service client allowing <per minute> requests a minute and <per hour> an hour
    Then the client's rate limits read <per minute> a minute and <per hour> an hour

    Examples:
      | per minute | per hour |
      | 1          | 60       |
      | 120        | 5000     |
      | 1000       | 100000   |

  @destructive
  Scenario: A disabled client gets no token until it is enabled again
    Given a service client that owns the scope "service:api"
    And the administrator has disabled the service client
    When the service client asks for a token
    Then the request is refused because the client is disabled
    And the administrator can enable the service client again
    And the service client can still get a token with its own secret

  @destructive
  Scenario: A deleted client is gone and gets no token
    Given a service client that owns the scope "service:api"
    And the service client has a token
    When the administrator deletes the service client
    Then the administrator no longer finds the service client
    And the service client's secret is refused as invalid_client
