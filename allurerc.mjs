// Allure 3 configuration of the Permiso acceptance suite (npm package `allure`, Node only, no Java).
//
// Why a config file: the default "awesome" report of Allure 3 ignores categories.json; categories,
// history (trends) and the report's grouping live here. `permiso-acceptance report` (permiso_acceptance/report.py)
// imports this object and overrides only `output`, `historyPath` and `plugins` for the run it builds;
// `npx allure generate allure-results` uses it as it stands.
//
// Plain object (no import of "allure"), so it can be imported from a generated config anywhere.

/**
 * Categories follow the causes of a run (design.md: one rule per scenario, every failure names its one
 * cause). The suite labels each failed result with `cause` (and `cause_kind`: rule | precondition |
 * scenario); `permiso-acceptance report` puts one category per cause of the run (read from
 * reports/signoff-summary.json) BEFORE these rules. These are what a plain `npx allure generate` uses:
 * the same causes, grouped by their label. The first matching rule wins.
 */
export const categories = {
  rules: [
    {
      id: "run-wide-rules",
      name: "Run-wide rules broken (each reported once, with examples)",
      matchers: { statuses: ["failed"], labels: { cause_kind: "^rule$" } },
      groupBy: [{ label: "cause" }],
      groupByMessage: false,
      expand: true,
    },
    {
      id: "preconditions",
      name: "Preconditions the target refused (could not prepare)",
      matchers: [
        { statuses: ["failed"], labels: { cause_kind: "^precondition$" } },
        { statuses: ["failed"], message: "^could not prepare" },
      ],
      groupBy: [{ label: "cause" }],
      groupByMessage: false,
      expand: true,
    },
    {
      id: "known-defects",
      name: "Known defects (documented, @known_defect)",
      matchers: { labels: { tag: "known_defect" } },
      groupBy: [{ label: "cause" }],
      groupByMessage: false,
    },
    {
      id: "product-defects",
      name: "Scenario rules broken (by defect, else by the scenario's rule)",
      matchers: { statuses: ["failed"] },
      groupBy: [{ label: "cause" }],
      groupByMessage: false,
      expand: true,
    },
    {
      id: "broken-tests-infrastructure",
      name: "Broken tests or infrastructure (error, not an assertion)",
      matchers: { statuses: ["broken"] },
      groupByMessage: true,
    },
  ],
};

export default {
  name: "Permiso acceptance",
  output: "allure-report",
  // One JSON line per run; keep the file between runs (CI cache/artifact) and trends show.
  historyPath: ".allure-history/history.jsonl",
  categories,
  plugins: {
    awesome: {
      options: {
        reportName: "Permiso acceptance",
        reportLanguage: "en",
        // epic = domain (set from the domain tag), feature = the .feature file's title
        groupBy: ["epic", "feature"],
        // open the failed steps and their evidence (attachments) when a failed test is opened
        stepTreeExpansion: "expand_failed_only",
      },
    },
  },
};
