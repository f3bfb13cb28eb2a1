@admin @destructive
Feature: Every documented endpoint answers
  Each endpoint the contract documents exists and works for the caller it is meant for: it answers
  neither "not found" nor with a server error. A person (Dana) calls the endpoints about her own
  account and sessions, a visitor the public ones, the administrator the administrative ones. A read
  acts on what the deployment already has (a seeded role and scope, the configured service client);
  a change or deletion acts on a throwaway made for the row. Paths are relative to the API
  base (/api/v1) except the service root. Add a row when the contract documents a new endpoint.

  Where the guide differs: the guide lists endpoints to be "available"; a 4xx answer to a request that
  is deliberately incomplete (a registration without a password, a bad reset token) proves the
  endpoint exists without creating anything, so it counts as available here.

  Scenario Outline: <function> answers <caller>
    When <caller> uses <function>
    Then the endpoint answers without "not found" and without a server error

    Examples: service root
      | function    | caller    |
      | GET /health | a visitor |
      | GET /       | a visitor |

    Examples: authentication
      | function                 | caller    |
      | POST /auth/token         | a visitor |
      | POST /auth/service-token | a visitor |
      | POST /auth/refresh       | a visitor |
      | POST /auth/introspect    | Dana      |
      | POST /auth/revoke        | Dana      |
      | POST /auth/logout        | Dana      |

    Examples: users
      | function                               | caller            |
      | POST /users/register                   | a visitor         |
      | GET /users/                            | the administrator |
      | POST /users/                           | the administrator |
      | GET /users/me                          | Dana              |
      | GET /users/profile                     | Dana              |
      | PUT /users/me                          | Dana              |
      | GET /users/stats/overview              | the administrator |
      | GET /users/{user_id}                   | Dana              |
      | PUT /users/{user_id}                   | Dana              |
      | DELETE /users/{user_id}                | the administrator |
      | PUT /users/{user_id}/password          | Dana              |
      | PUT /users/{user_id}/roles             | the administrator |
      | POST /users/password-reset/request     | a visitor         |
      | POST /users/email-verification/request | a visitor         |

    @allure.issue:D11
    Examples: confirming one-time tokens
      | function                               | caller            |
      | POST /users/password-reset/confirm     | a visitor         |
      | POST /users/email-verification/confirm | a visitor         |

    Examples: roles, scopes and permissions
      | function                              | caller            |
      | GET /roles/                           | the administrator |
      | POST /roles/                          | the administrator |
      | GET /roles/stats                      | the administrator |
      | GET /roles/defaults                   | the administrator |
      | GET /roles/{role_id}                  | the administrator |
      | GET /roles/scopes/                    | the administrator |
      | POST /roles/scopes/                   | the administrator |
      | POST /roles/permissions/check         | the administrator |
      | POST /roles/permissions/check-bulk    | the administrator |
      | GET /roles/permissions/user/{user_id} | the administrator |

    @allure.issue:D1
    Examples: roles and scopes, changed on throwaways
      | function                              | caller            |
      | PUT /roles/{role_id}                  | the administrator |
      | PUT /roles/{role_id}/scopes           | the administrator |
      | DELETE /roles/{role_id}               | the administrator |
      | GET /roles/scopes/{scope_id}          | the administrator |
      | PUT /roles/scopes/{scope_id}          | the administrator |
      | DELETE /roles/scopes/{scope_id}       | the administrator |

    Examples: service clients
      | function                                        | caller            |
      | GET /service-clients/                           | the administrator |
      | POST /service-clients/                          | the administrator |
      | GET /service-clients/stats/overview             | the administrator |
      | GET /service-clients/health/check               | the administrator |
      | GET /service-clients/{client_id}                | the administrator |
      | GET /service-clients/{client_id}/permissions    | the administrator |
      | GET /service-clients/{client_id}/rate-limit     | the administrator |

    @allure.issue:D1
    Examples: service clients, changed on throwaways
      | function                                        | caller            |
      | PUT /service-clients/{client_id}                | the administrator |
      | DELETE /service-clients/{client_id}             | the administrator |
      | PUT /service-clients/{client_id}/scopes         | the administrator |
      | POST /service-clients/{client_id}/rotate-secret | the administrator |
      | POST /service-clients/{client_id}/webhook/test  | the administrator |

    Examples: sessions
      | function                          | caller            |
      | GET /sessions/                    | Dana              |
      | DELETE /sessions/                 | Dana              |
      | GET /sessions/stats               | the administrator |
      | POST /sessions/cleanup            | the administrator |
      | DELETE /sessions/{session_id}     | Dana              |

    @allure.issue:D2
    Examples: renewing a session
      | function                          | caller            |
      | POST /sessions/{session_id}/renew | Dana              |

    Examples: admin console
      | function                        | caller            |
      | GET /admin/dashboard/stats      | the administrator |
      | GET /admin/system/health        | the administrator |
      | GET /admin/security/events      | the administrator |
      | POST /admin/maintenance/cleanup | the administrator |
      | POST /admin/maintenance/backup  | the administrator |
      | GET /admin/audit/activity       | the administrator |
      | GET /admin/reports/usage        | the administrator |
      | POST /admin/config/reload       | the administrator |
      | GET /admin/logs/errors          | the administrator |
