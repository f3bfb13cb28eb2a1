@infrastructure @needs.tls_front @contract.PartB
Feature: The service is only reachable over an encrypted connection
  Permiso carries passwords and tokens, so everything goes over HTTPS. The front answers on
  HTTPS; anyone who comes over plain HTTP is sent on permanently to the same address over HTTPS,
  and the API itself never answers over plain HTTP.

  Where the guide's expectation differs from the contract: the guide accepts any of 200, 301,
  302 or 308 on plain HTTP. The contract is stricter: plain HTTP answers 301 to
  https://<same host><same path>. The front drops the port, so the scheme, host and path are
  compared, not the port.

  @critical
  Scenario: The service answers over HTTPS
    When a visitor asks the service whether it is healthy
    Then the service reports that it is healthy
    And the answer came over an encrypted connection

  # {api} stands for the API prefix (PERMISO_API_BASE, /api/v1 by default).
  Scenario Outline: Plain HTTP is sent on permanently to the same address over HTTPS
    When a visitor opens "<address>" over plain HTTP
    Then the visitor is sent on permanently to "<address>" over HTTPS on the same host

    Examples:
      | address          |
      | /health          |
      | /                |
      | {api}/users/me   |
      | {api}/auth/token |

  @critical
  Scenario: The API does not answer over plain HTTP
    When a visitor asks for the current user over plain HTTP
    Then the visitor is sent on to HTTPS instead of being answered by the API
    And the same request over HTTPS is answered by the API
