@security @needs.tls_front @contract.A1 @contract.PartB
Feature: Credentials and tokens are never accepted over plain HTTP
  The TLS front sends every plain-HTTP request on to HTTPS (see infrastructure/tls_front.feature).
  That alone does not protect a password or a token that was already sent in clear: the API must not
  act on it either. Whatever a person sends over plain HTTP - a sign-in, a refresh, a request with
  her access token - is answered only by the redirect to the same path over HTTPS, with nothing of
  the API in it, and the redirect itself carries the security headers.

  Sources: RFC 6750 section 5.3 (TLS required), OWASP API8:2023.

  @critical
  Scenario Outline: <request> sent over plain HTTP is only redirected
    Given Dana has signed in
    When Dana sends <request> over plain HTTP
    Then she is only sent on permanently to the same path over HTTPS
    And Dana's access token is accepted

    Examples:
      | request                                   |
      | her sign-in                               |
      | her refresh token                         |
      | a question who is signed in, with her token |
      | an introspection of her token             |
      | a sign-out, with her token                |

  @allure.issue:D32
  Scenario: The plain-HTTP redirect itself carries the security headers
    When a visitor opens the sign-in address over plain HTTP
    Then the answer carries the contract's security headers, without HSTS
