@admin @allure.issue:D1
Feature: Roles carry scopes, and scopes decide what a person may do
  A role is a named set of scopes; a person holds roles; each sign-in gives a token carrying the
  scopes of the person's roles at that moment. So when an administrator gives or takes a role, the
  person's next token (not the current one) reflects it, and what the new scopes allow starts or
  stops working. The permission check tells an administrator what a person may do, one question at
  a time or several at once. Permiso ships with four default roles.

  Every role and scope created here is a throwaway, removed after the scenario.

  Scenario: A new role's scope reaches the person's next token and lets them act
    Given a role granting the scope "admin:sessions"
    And Dana has signed in
    And Dana may not read the session statistics
    And the administrator has given Dana the new role
    When Dana signs in again
    Then Dana's new token carries the scope "admin:sessions"
    And Dana may read the session statistics

  Scenario: Taking a role away takes its permission away from the next token
    Given Dana holds a role granting the scope "admin:sessions"
    And Dana has signed in
    And Dana may read the session statistics
    And the administrator has taken the role away from Dana
    When Dana signs in again
    Then Dana's new token does not carry the scope "admin:sessions"
    And Dana may not read the session statistics

  Scenario Outline: The permission check says whether Dana may <action> <resource>
    Given Dana holds a role that allows reading reports
    When the administrator asks whether Dana may <action> <resource>
    Then the answer is that she is <answer>

    Examples:
      | action | resource | answer      |
      | read   | reports  | allowed     |
      | write  | reports  | not allowed |
      | read   | invoices | not allowed |

  Scenario: Several permissions are checked at once
    Given Dana holds a role that allows reading reports
    When the administrator checks these permissions of Dana at once
      | action | resource | answer      |
      | read   | reports  | allowed     |
      | write  | reports  | not allowed |
      | read   | invoices | not allowed |
    Then each permission is answered as listed
    And the answer lists Dana's roles and scopes

  @allure.issue:D13
  Scenario: Permiso names its default roles
    When the administrator asks for the default roles
    Then the default roles are "user", "admin", "trader" and "service"

  Scenario Outline: The default role "<role>" grants its documented scopes
    When the administrator looks up the role "<role>"
    Then the role grants at least <scopes>

    Examples:
      | role    | scopes                                                                      |
      | admin   | "admin:users", "admin:system", "admin:clients", "read:profile", "write:profile" |
      | user    | "read:profile" and "write:profile"                                          |
      | trader  | "read:profile", "write:profile", "read:trades" and "write:trades"           |
      | service | "service:mt5" and "service:api"                                             |

  @destructive
  Scenario: A role still held by someone cannot be deleted
    Given Dana holds a role granting the scope "read:profile"
    When the administrator tries to delete that role
    Then the deletion is refused as a conflict
    And once the role is taken away from Dana the administrator can delete it

  Scenario: An administrator creates a scope and a role with it, and changes the role's scopes
    When the administrator creates a scope for reading reports and a role with it
    Then the role is shown with the scope for reading reports
    And the administrator can replace the role's scopes with "read:profile"
    And the role is shown with exactly the scope "read:profile"
