@security @contract.A2 @allure.issue:D1
Feature: What a caller may do comes from their token, never from what they write in the request
  Some administrative information is open only to holders of a named permission: security events,
  the audit trail, the error log, session statistics, a person's permissions. Whether the caller holds
  that permission is read from the token Permiso issued to them. Anything the caller writes into the
  request, such as a claim to be a superuser with every permission, must be ignored: a visitor is
  still told to sign in, a regular person is still refused. Only reads are tried, so a broken guard
  can show data but never change it.

  Scenario Outline: A visitor claiming the administrator's permissions cannot <function>
    Given Dana has an account
    When a visitor asks to <function>, claiming the administrator's permissions in the request
    Then the visitor is refused as not signed in
    And the administrator asking the same is answered

    @critical
    Examples:
      | function                    |
      | read the security events    |
      | read the audit activity     |
      | read the error log          |
      | read the session statistics |
      | read a person's permissions |

  Scenario Outline: A regular person claiming the administrator's permissions cannot <function>
    Given Dana has signed in
    When Dana asks to <function>, claiming the administrator's permissions in the request
    Then Dana is refused as not allowed
    And the administrator asking the same is answered

    Examples:
      | function                    |
      | read the security events    |
      | read the audit activity     |
      | read the error log          |
      | read the session statistics |
      | read a person's permissions |
