@service_clients
Feature: Service clients get tokens with their own credentials
  Other systems (the trading bridge, back-office jobs) call Permiso as service clients: they present
  a client id and secret and get a service token carrying only the scopes the client owns. There is
  no refresh token: a client simply asks again. A service token identifies a machine, not a person,
  so it is refused wherever a signed-in person is required. A wrong secret and an unknown client are
  refused identically, and a client an administrator has disabled gets no more tokens.

  Where the guide's expectation differs from the contract: the guide only asks that the configured
  client's sign-in "yields a token". The contract also fixes what the token carries (the client's
  scopes, no refresh token), the identical invalid_client refusal, and what the token may not do.

  @critical @needs.configured_client
  Scenario: The configured service client gets a service token
    When the configured service client asks for a token
    Then the service client receives a service token without a refresh token
    And the service token is accepted where any valid token is

  @critical
  Scenario: A service token carries the client's own scopes
    Given a service client that owns the scopes "service:api" and "service:mt5"
    When the service client asks for a token
    Then the service client receives a service token without a refresh token
    And the service token carries exactly the scopes "service:api" and "service:mt5"

  @critical @allure.issue:D30
  Scenario: A wrong secret and an unknown client are refused identically
    Given a service client that owns the scope "service:api"
    When Mallory tries a wrong secret for that service client and a client id nobody has
    Then both attempts are refused as invalid_client
    And the two refusals cannot be told apart
    And the service client can still get a token with its own secret

  @critical
  Scenario: A service token cannot be used where a signed-in person is required
    Given a service client that owns the scope "service:api"
    And the service client has a token
    When the service client asks who is signed in
    Then the service token is refused as not signed in
    And the service token is accepted where any valid token is

  @destructive
  Scenario: A disabled service client gets no more tokens
    Given a service client that owns the scope "service:api"
    And the service client has a token
    And the administrator has disabled the service client
    When the service client asks for a token
    Then the request is refused because the client is disabled

  Scenario: A scope the client does not own is not granted
    Given a service client that owns the scope "service:api"
    When the service client asks for a token with the scopes "service:api" and "admin:system"
    Then the service token carries exactly the scope "service:api"

  Scenario: Asking only for scopes the client does not own is refused
    Given a service client that owns the scope "service:api"
    When the service client asks for a token with the scope "admin:system"
    Then the request is refused as invalid_scope
    And the service client can still get a token with its own secret
