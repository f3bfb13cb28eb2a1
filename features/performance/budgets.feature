@performance
Feature: Every kind of endpoint answers within its response-time budget
  The deployment guide gives each kind of endpoint a response-time budget: health checks 100 ms,
  signing in and other token operations 500 ms, reading and writing records (CRUD) 1000 ms, the admin
  console 2000 ms (the deployment may set other budgets). One answer proves nothing, so each endpoint
  is called several times (20 by default; the deployment may set another number) and judged on its
  95th percentile: at 20 samples, 19 of 20 answers must come within the budget. The median, the 95th
  percentile and the slowest answer are attached to the report and listed in the release sign-off
  summary.

  The suite spaces its own sign-ins to stay under the deployment's rate limit; that waiting is not
  the service's response time and is not counted: each answer is timed on its own.

  To measure another endpoint, add a row: its name from the budget catalogue (health, service root,
  sign-in, token refresh, service token, token introspection, current user, get user, update
  profile, own sessions, admin user list, user statistics, role list, service client list, admin
  dashboard, system health) and its budget class (health, auth, CRUD or admin).

  Scenario Outline: The <function> endpoint answers within the <budget> budget
    When the response time of <function> is sampled the configured number of times
    Then every timed call of the <function> endpoint succeeded
    And the 95th percentile of the <function> endpoint is within the <budget> budget

    Examples: Public and signed-in endpoints
      | function            | budget |
      | health              | health |
      | sign-in             | auth   |
      | token refresh       | auth   |
      | service token       | auth   |
      | token introspection | auth   |
      | current user        | CRUD   |
      | get user            | CRUD   |
      | update profile      | CRUD   |

    @needs.admin
    Examples: Administrator endpoints
      | function            | budget |
      | admin user list     | admin  |
      | user statistics     | admin  |

    @needs.admin @allure.issue:D1
    Examples: Administrator console endpoints
      | function            | budget |
      | admin dashboard     | admin  |
      | system health       | admin  |
