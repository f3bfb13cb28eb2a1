# Not part of an ordinary run: selected with --tags=@fuzz, or by setting how many examples to generate
# (docs/fuzzing.md). A finding names the operation, the rule it broke and its smallest request.
@security @fuzz @contract.A11
Feature: Generated input: every documented operation survives what a fuzzer throws at it
  Hand-written lists of hostile values find only what someone thought of. Here a fuzzer (Schemathesis)
  reads the service's own description of its operations and generates requests for every one of them:
  invalid data everywhere, valid data only where nothing can be created or changed by it, mixed with the
  suite's catalogue of hostile values. The administrator, a throwaway regular user and a visitor take
  turns sending them; no request ever names a configured account, and nothing a request created stays.

  Every answer must refuse bad input cleanly: never a server error, never a glimpse of the server's
  internals, never an echo of what was sent, never a success for data the description forbids, and a
  success must look as described. Each broken rule is reported once per operation, with the smallest
  request that shows it, and the seed that replays the run.

  Background:
    Given the fuzzer has read the service's description of its operations
    And the administrator, a throwaway regular user and a visitor take turns as callers

  Scenario Outline: No operation of <area> crashes on malformed input
    When the fuzzer sends generated input to every operation of <area>
    Then every answer refuses bad input cleanly and every success looks as described

    Examples:
      | area                    |
      | sign-in and tokens      |
      | the user administration |
      | roles and permissions   |
      | service clients         |
      | sessions                |
      | the admin console       |
      | the service status      |
