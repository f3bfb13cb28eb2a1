"use strict";
// House rule (design.md section 3): Given and When steps say WHAT happens in the business's words;
// transport details (methods, paths, status codes, headers, JSON) belong in Then steps at most.
// An "And"/"But" step counts as the keyword before it.

const rule = "no-http-in-given-when";
const HTTP_WORDS = [
  /\b(GET|POST|PUT|PATCH|DELETE|HEAD|OPTIONS)\b/,
  /\/api\/|\/v1\//,
  /(?<!plain )\bHTTPS?\b/,
  /\b[1-5]\d\d\b/,
  /\bstatus code\b/i,
  /\bJSON\b/,
  /\bheader\b/i,
  /\bendpoint\b/i,
  /\bquery parameter\b/i,
];

function scenariosOf(feature) {
  return feature.children.map((child) => child.background || child.scenario).filter(Boolean);
}

function run(feature) {
  if (!feature) {
    return [];
  }
  const errors = [];
  scenariosOf(feature).forEach((scenario) => {
    let current = "";
    scenario.steps.forEach((step) => {
      const keyword = step.keyword.trim().toLowerCase();
      if (keyword !== "and" && keyword !== "but" && keyword !== "*") {
        current = keyword;
      }
      if (current !== "given" && current !== "when") {
        return;
      }
      const hit = HTTP_WORDS.find((pattern) => pattern.test(step.text));
      if (hit) {
        errors.push({
          message: `${current === "given" ? "Given" : "When"} step "${step.text}" speaks HTTP (${hit}); ` +
            "say what happens in the business's words",
          rule,
          line: step.location.line,
        });
      }
    });
  });
  return errors;
}

module.exports = { name: rule, run };
