@security @needs.production @allure.issue:D17 @contract.A1
Feature: A production deployment does not publish the map of its own interface
  While Permiso is being built, it publishes a complete description of everything it can be asked,
  with pages to browse and try it out. On a live deployment that description is a map for anyone who
  wants to attack it: every address, every field, every way in. So a deployment that says it runs in
  production must keep that description to itself: a visitor opening any of its usual addresses finds
  nothing there, while the service itself keeps answering.

  These rules only apply where the deployment's own health report says it runs in production; elsewhere
  the scenarios are skipped with that reason.

  Scenario Outline: A visitor finds no description of the interface at <address>
    When a visitor opens the interface description at "<address>"
    Then the visitor finds nothing there
    And the service's health report still answers the visitor

    Examples:
      | address       |
      | /openapi.json |
      | /docs         |
      | /redoc        |
