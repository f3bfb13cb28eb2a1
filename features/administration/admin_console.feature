@admin @allure.issue:D1
Feature: The admin console tells an administrator how Permiso is doing
  The console shows dashboard statistics, the health of Permiso's components, security events (such
  as failed sign-ins), the audit trail of administrative changes and a usage report, and offers
  maintenance: cleanup of stale data, a backup and a configuration reload. Each answers in the shape
  the contract documents, for an administrator.

  Scenario Outline: The <page> answers with its documented parts
    When the administrator opens the <page>
    Then the answer has the parts <parts>

    Examples:
      | page                 | parts                                                                  |
      | dashboard statistics | users, roles_and_permissions, service_clients, authentication, system |
      | system health        | status, timestamp, components, metrics                                |
      | security events      | events, total, page, per_page                                         |
      | audit activity       | activities, total, page, per_page                                     |
      | usage report         | period, users, authentication                                         |
      | maintenance cleanup  | timestamp, operations                                                 |
      | maintenance backup   | timestamp                                                             |
      | configuration reload | message                                                               |
      | error log            | errors, total                                                         |

  Scenario: The system health reports every component
    When the administrator opens the system health
    Then Permiso reports itself healthy or degraded
    And the health names the database, the cache and the token service

  Scenario: A failed sign-in appears among the security events
    Given Dana has an account
    When Mallory tries to sign in as Dana with a wrong password
    Then the administrator finds the failed sign-in for Dana among the security events
    And Dana can still sign in with her password

  Scenario: The audit trail records an account the administrator created
    When the administrator creates an account for Erin
    Then the audit activity shows the creation of Erin's account

  Scenario: The dashboard counts people and sessions
    Given Dana has signed in
    When the administrator opens the dashboard statistics
    Then the dashboard counts at least one user and one active session

  Scenario Outline: The usage report covers <days> days
    When the administrator asks for the usage report of the last <days> days
    Then the report covers <days> days

    Examples:
      | days |
      | 1    |
      | 30   |
      | 365  |

  Scenario Outline: A usage report of <days> days is refused as invalid
    When the administrator asks for the usage report of the last <days> days
    Then the request is refused as invalid
    And the usage report of the last 30 days is available

    Examples:
      | days |
      | 0    |
      | 366  |
