@service_clients @contract.A3 @contract.A8 @allure.issue:D24
Feature: A service client allowed only from named addresses gets no token from anywhere else
  An administrator can name the addresses a service client may sign in from, so that its secret is
  useless to anyone who copies it and tries it from another machine. A client asking from outside its
  list is refused exactly as if its secret were wrong: the caller learns neither the list nor that the
  secret was right. A client without a list may sign in from anywhere.

  Every client here is a throwaway made for the scenario. The other address is one reserved for
  documentation: it only ever appears in the client's record. The suite's own address is only known
  when it runs its own Permiso; against a deployment behind a front that row is skipped with the reason.

  Scenario Outline: A service client allowed to sign in <place> is <outcome> with its own secret
    Given a throwaway service client allowed to sign in <place>
    When the service client asks for a token
    Then the service client is <outcome>

    Examples:
      | place                     | outcome                   |
      | only from another address | refused as invalid_client |
      | from anywhere             | given a service token     |

    @needs.embedded
    Examples: the suite's own address, known when it runs its own Permiso
      | place                             | outcome               |
      | only from the suite's own machine | given a service token |

  Scenario: A service client asking from outside its allow-list learns nothing from the refusal
    Given a throwaway service client allowed to sign in only from another address
    When the service client asks for a token
    Then the refusal cannot be told from that of a wrong secret
