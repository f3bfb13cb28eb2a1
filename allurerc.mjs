// Allure 3 configuration of the Permiso acceptance suite (npm package `allure`, Node only, no Java).
//
// Why a config file: the default "awesome" report of Allure 3 ignores categories.json; categories,
// history (trends) and the report's grouping live here. `permiso-acceptance report` (support/report_cli.py)
// imports this object and overrides only `output`, `historyPath` and `plugins` for the run it builds;
// `npx allure generate allure-results` uses it as it stands.
//
// Plain object (no import of "allure"), so it can be imported from a generated config anywhere.

/** Categories: the first matching rule wins, so known defects come before product defects. */
export const categories = {
  rules: [
    {
      id: "known-defects",
      name: "Known defects (documented, @known_defect)",
      matchers: { labels: { tag: "known_defect" } },
      groupBy: ["severity"],
    },
    {
      id: "product-defects",
      name: "Product defects (an assertion about Permiso failed)",
      matchers: { statuses: ["failed"] },
      groupBy: ["severity"],
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
