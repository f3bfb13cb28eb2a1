@performance @load @ORDER_001
Feature: The service holds up under a mixed load
  The deployment guide expects Permiso to serve 100 concurrent users for five minutes
  (TEST_CONCURRENT_USERS, TEST_DURATION_SECONDS). A nightly run checks a short version of that
  load: simulated people sign in, look at their profile, refresh and sign out; service clients
  fetch tokens and use them; administrators read the user list and statistics; a load balancer
  probes the health check. Every account used is a throwaway created for the load and deleted
  after it.

  The load passes when at most 1 % of the requests fail and every step's 95th percentile stays
  within its response-time budget. The full load is `permiso-acceptance load` (see README), which
  can also spread the users over several machines.

  Against a deployment, its front limits each client address to 5 sign-ins per second: a load from
  one machine would only meet that limit, so there this scenario is skipped with that reason, and the
  full load (`permiso-acceptance load`) is spread over several machines.

  @needs.no_auth_rate_limit
  Scenario: A short mixed load keeps failures at or under 1 % and every step within its budget
    When 20 simulated users run the everyday journeys for 10 seconds
    Then at most 1 % of the load's requests failed
    And every step of the load answered within its budget at the 95th percentile
