@admin @destructive @ORDER_004
Feature: Only administrators reach the administrative functions
  Managing users, roles, scopes, service clients and sessions, and the admin console, are for
  administrators only. Someone who is not signed in is told to sign in first (401 with a Bearer
  challenge); a signed-in regular user is refused (403). A service client's token is a machine's,
  not a person's sign-in: where an administrator is required it is refused as not signed in (401),
  and where a named permission is required that the client does not own it is refused as not
  allowed (403). The administrator's request is carried out. Each row is one function: add a row
  when Permiso gains one.

  Why: broken function-level authorization is the most common way APIs are abused (OWASP API5:2023),
  and a known defect of today's Permiso broke exactly these guards. The visitor, Dana and the service
  client are sent to objects that do not exist: a guard must refuse them before looking anything up,
  and a broken guard then changes nothing real. The administrator reads what the deployment already
  has (the seeded roles and scopes, the configured service client) and changes or deletes only
  throwaways made for the row; when the deployment refuses to make one, the row says so.

  Scenario Outline: Only an administrator may <function>
    When a visitor, Dana, a service client and the administrator each try to <function>
    Then the visitor is refused as not signed in
    And Dana is refused as not allowed
    And the service client is refused as <service client>
    And the administrator's request is carried out

    @critical
    Examples: user administration
      | function                  | service client |
      | list the users            | not signed in  |
      | create a user             | not signed in  |
      | read the user statistics  | not signed in  |
      | delete a user             | not signed in  |
      | set a user's roles        | not signed in  |

    @allure.issue:D1
    Examples: roles, scopes and permissions
      | function                          | service client |
      | list the roles                    | not signed in  |
      | create a role                     | not signed in  |
      | read the role statistics          | not signed in  |
      | read the default roles            | not signed in  |
      | read a role                       | not signed in  |
      | change a role                     | not signed in  |
      | change a role's scopes            | not signed in  |
      | delete a role                     | not signed in  |
      | list the scopes                   | not signed in  |
      | create a scope                    | not signed in  |
      | read a scope                      | not signed in  |
      | change a scope                    | not signed in  |
      | delete a scope                    | not signed in  |
      | check a user's permission         | not allowed    |
      | check several permissions at once | not allowed    |
      | read a user's permissions         | not allowed    |

    @allure.issue:D1
    Examples: service clients
      | function                            | service client |
      | list the service clients            | not signed in  |
      | register a service client           | not signed in  |
      | read the service client statistics  | not signed in  |
      | check the service clients' health   | not signed in  |
      | read a service client               | not signed in  |
      | change a service client             | not signed in  |
      | delete a service client             | not signed in  |
      | change a service client's scopes    | not signed in  |
      | rotate a service client's secret    | not signed in  |
      | read a service client's permissions | not signed in  |
      | read a service client's rate limits | not signed in  |
      | test a service client's webhook     | not signed in  |

    @allure.issue:D1
    Examples: sessions
      | function                    | service client |
      | read the session statistics | not allowed    |
      | clean up expired sessions   | not allowed    |

    @allure.issue:D1
    Examples: admin console
      | function                    | service client |
      | open the dashboard          | not signed in  |
      | read the system health      | not signed in  |
      | read the security events    | not allowed    |
      | run the maintenance cleanup | not signed in  |
      | take a backup               | not signed in  |
      | read the audit activity     | not allowed    |
      | read the usage report       | not signed in  |
      | reload the configuration    | not allowed    |
      | read the error log          | not allowed    |
