@tokens @ORDER_003 @contract.A2 @contract.A3 @contract.A4
Feature: A bad token is refused wherever a token is taken
  A token is taken in four places: when someone asks who is signed in, when a service asks whether
  a token is still good (introspection), when a session is refreshed, and when a token is revoked.
  Each of these must see through every kind of bad token: one that has run out or is not valid yet,
  one that was revoked, a refresh token that was already exchanged for a new one, a token of the
  wrong kind, one made for another service or by another issuer, one that never runs out, and one
  signed with somebody else's key. Introspection answers honestly instead of refusing: a bad token is
  reported inactive, and a genuine refresh token is reported as what it is.

  Each row is one bad token at one place, and every row also shows that Dana's genuine token is
  accepted at the same place, so a refusal can never be an outage in disguise. Bad tokens for a
  refresh are made from Dana's refresh token, the others from her access token; revoking and
  refreshing happen on a second device of hers, never on the tokens she keeps using.

  Scenario Outline: A token that is <defect> is <outcome> when presented for <use>
    Given Dana has signed in
    And Mallory holds a copy of Dana's token for <use> that is <defect>
    When the token is presented for <use>
    Then the token is <outcome>
    And Dana's genuine token is accepted for <use>

    @critical
    Examples: forged with a key of Mallory's own
      | defect | use                     | outcome                  |
      | forged | asking who is signed in | refused as not signed in |
      | forged | introspection           | reported inactive        |
      | forged | refreshing the session  | refused as invalid_grant |
      | forged | revoking a token        | refused as not signed in |

    @allure.issue:D8
    Examples: revoked
      | defect  | use                     | outcome                  |
      | revoked | asking who is signed in | refused as not signed in |
      | revoked | introspection           | reported inactive        |
      | revoked | refreshing the session  | refused as invalid_grant |
      | revoked | revoking a token        | refused as not signed in |

    @allure.issue:D7
    Examples: a refresh token already exchanged for a new one
      | defect                      | use                     | outcome                  |
      | a refresh token rotated away | asking who is signed in | refused as not signed in |
      | a refresh token rotated away | introspection           | reported inactive        |
      | a refresh token rotated away | refreshing the session  | refused as invalid_grant |
      | a refresh token rotated away | revoking a token        | refused as not signed in |

    @allure.issue:D5
    Examples: a token of the wrong kind (a refresh token where an access token belongs, and back)
      | defect            | use                     | outcome                     |
      | of the wrong type | asking who is signed in | refused as not signed in    |
      | of the wrong type | introspection           | reported as a refresh token |
      | of the wrong type | refreshing the session  | refused as invalid_grant    |
      | of the wrong type | revoking a token        | refused as not signed in    |

    @needs.signing_key
    Examples: signed with the server's own key but out of its lifetime
      | defect        | use                     | outcome                  |
      | expired       | asking who is signed in | refused as not signed in |
      | expired       | introspection           | reported inactive        |
      | expired       | refreshing the session  | refused as invalid_grant |
      | expired       | revoking a token        | refused as not signed in |
      | not yet valid | asking who is signed in | refused as not signed in |
      | not yet valid | introspection           | reported inactive        |
      | not yet valid | refreshing the session  | refused as invalid_grant |
      | not yet valid | revoking a token        | refused as not signed in |

    @needs.signing_key
    Examples: signed with the server's own key by another issuer
      | defect              | use                     | outcome                  |
      | from another issuer | asking who is signed in | refused as not signed in |
      | from another issuer | introspection           | reported inactive        |
      | from another issuer | refreshing the session  | refused as invalid_grant |
      | from another issuer | revoking a token        | refused as not signed in |

    @needs.signing_key @allure.issue:D31
    Examples: signed with the server's own key and never running out
      | defect             | use                     | outcome                  |
      | without an expiry  | asking who is signed in | refused as not signed in |
      | without an expiry  | introspection           | reported inactive        |
      | without an expiry  | refreshing the session  | refused as invalid_grant |
      | without an expiry  | revoking a token        | refused as not signed in |

    @needs.signing_key @rfc_strict @minor @known_defect @allure.issue:D6
    Examples: signed with the server's own key for another service
      | defect               | use                     | outcome                  |
      | for another audience | asking who is signed in | refused as not signed in |
      | for another audience | introspection           | reported inactive        |
      | for another audience | refreshing the session  | refused as invalid_grant |
      | for another audience | revoking a token        | refused as not signed in |
