@auth @destructive @contract.A2 @contract.A3 @contract.A5 @contract.A7
Feature: What an account may still do depends on its state, whichever way it knocks
  An account can be disabled by an administrator, locked after too many wrong passwords, deleted,
  given a new password by its owner, or stripped of a role. Each of these changes must hold on every
  path a person's credentials take: signing in with the password, the access token she already held,
  the refresh token she already held, a service asking whether that access token is still good, and
  her list of sessions. A disabled or locked account is told so when it signs in with the right
  password; a deleted account and an old password are refused like any wrong password; the tokens of
  a disabled, locked or deleted account stop working at once. A role taken away changes what her next
  token allows, while the token she already holds keeps working until it runs out. A new password
  leaves her existing sessions alone: she changed it herself, on a device she keeps using.

  Every row acts on a throwaway account made for it; the configured accounts are never touched.

  Scenario Outline: After her account was <state>, <path> is <outcome>
    Given Dana had signed in before her account was <state>
    When Dana tries <path>
    Then the attempt is <outcome>

    @critical
    Examples: an account left as it was
      | state       | path                                           | outcome         |
      | left active | signing in with her password                   | signed in       |
      | left active | using the access token she had                 | accepted        |
      | left active | refreshing with the refresh token she had      | refreshed       |
      | left active | having that access token introspected          | reported active |
      | left active | listing her sessions with that access token    | accepted        |

    Examples: a disabled account
      | state    | path                                        | outcome                       |
      | disabled | signing in with her password                | refused as a disabled account |
      | disabled | using the access token she had              | refused as not signed in      |
      | disabled | refreshing with the refresh token she had   | refused as invalid_grant      |
      | disabled | listing her sessions with that access token | refused as not signed in      |

    @allure.issue:D2
    Examples: a locked account
      | state  | path                                        | outcome                     |
      | locked | signing in with her password                | refused as a locked account |
      | locked | using the access token she had              | refused as not signed in    |
      | locked | refreshing with the refresh token she had   | refused as invalid_grant    |
      | locked | listing her sessions with that access token | refused as not signed in    |

    Examples: a deleted account
      | state   | path                                        | outcome                  |
      | deleted | signing in with her password                | refused as invalid_grant |
      | deleted | using the access token she had              | refused as not signed in |
      | deleted | refreshing with the refresh token she had   | refused as invalid_grant |
      | deleted | listing her sessions with that access token | refused as not signed in |

    @allure.issue:D8
    Examples: the token of a closed account, introspected
      | state    | path                                  | outcome           |
      | disabled | having that access token introspected | reported inactive |
      | locked   | having that access token introspected | reported inactive |
      | deleted  | having that access token introspected | reported inactive |

    Examples: an account given a new password (she still tries the old one)
      | state                | path                                        | outcome                  |
      | given a new password | signing in with her password                | refused as invalid_grant |
      | given a new password | using the access token she had              | accepted                 |
      | given a new password | refreshing with the refresh token she had   | refreshed                |
      | given a new password | having that access token introspected       | reported active          |
      | given a new password | listing her sessions with that access token | accepted                 |

    Examples: an account stripped of its role
      | state                | path                                        | outcome                                  |
      | stripped of its role | signing in with her password                | signed in without the role's permissions |
      | stripped of its role | using the access token she had              | accepted                                 |
      | stripped of its role | refreshing with the refresh token she had   | refreshed without the role's permissions |
      | stripped of its role | having that access token introspected       | reported active                          |
      | stripped of its role | listing her sessions with that access token | accepted                                 |
