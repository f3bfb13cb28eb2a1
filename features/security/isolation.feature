@security @contract.A3 @contract.A6 @contract.A9
Feature: Each person sees only themselves, however many are signed in
  Reading "my own" account, profile, sessions or what my token allows must answer the person who
  asks and nobody else. A server that keeps track of "the current user" in the wrong place answers
  correctly while one person is signed in and shows somebody else's data as soon as two are, so each
  read is made by two people signed in at the same time and a third who signed in after them. Ending
  all of one's own sessions must leave everybody else signed in.

  Scenario Outline: With others signed in, each person reading <read> sees only themselves
    Given Dana and Erin have signed in at the same time
    And Frank has signed in after them
    When each of them reads <read>
    Then each of them sees only themselves

    @critical
    Examples: who am I
      | read                        |
      | who they are                |
      | their profile               |
      | their own account by its id |
      | what their token allows     |

    @allure.issue:D18
    Examples: my sessions
      | read            |
      | their sessions  |

  Scenario: Ending all of one's sessions leaves everybody else signed in
    Given Dana and Erin have signed in at the same time
    And Frank has signed in after them
    When Erin ends all of her sessions
    Then Dana and Frank are still signed in
