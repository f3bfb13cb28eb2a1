@admin
Feature: A profile update cannot grant privileges
  A person may change their own name, display name, bio and email address. Roles, superuser rights
  and the active and verified flags are set by administrators only: when a regular user slips them
  into their own profile update, Permiso either refuses the update (403) or ignores those fields,
  but never applies them. The person's ordinary profile changes keep working.

  Why: mass assignment (OWASP API3:2023, broken object property level authorization) is a known
  defect of today's Permiso: a regular user could grant themselves roles and flip their own flags.

  @allure.issue:D15
  Scenario Outline: Dana cannot give herself <privilege> through her profile
    Given Dana, a regular user whose email address is not yet verified, has signed in
    When Dana updates her own profile and slips in <privilege>
    Then Dana's account still has <unchanged>
    And Dana can still change her own bio

    Examples:
      | privilege            | unchanged                 |
      | the admin role       | no roles                  |
      | superuser rights     | no superuser rights       |
      | a verified email     | an unverified email       |
      | a deactivation       | an active account         |
