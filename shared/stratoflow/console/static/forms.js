// Form fields generated from typed inputs (a flow's inputs, a Pause's onResume inputs). Values are
// sent as text: the server types and validates them exactly as `strato run --input` does.

import { h, nextId } from "./dom.js";

const HINTS = {
  DATETIME: "e.g. 2026-01-31T09:00:00Z",
  DURATION: "ISO 8601, e.g. PT5M",
  JSON: "JSON",
  YAML: "YAML",
  ARRAY: "comma-separated, or a JSON array",
  TIME: "HH:MM[:SS]",
};

function control(spec, id) {
  const name = spec.id;
  const required = spec.required && (spec.default === null || spec.default === undefined);
  const common = { id, name, required: required || null, "aria-describedby": `${id}-help` };
  const initial = spec.default === null || spec.default === undefined ? "" : spec.default;
  switch (spec.type) {
    case "INT":
      return h("input", { ...common, type: "number", step: 1, value: initial });
    case "FLOAT":
      return h("input", { ...common, type: "number", step: "any", value: initial });
    case "BOOLEAN":
      return h("select", common,
        h("option", { value: "" }, "(not given)"),
        ["true", "false"].map((v) => h("option", { value: v, selected: String(initial) === v || null }, v)));
    case "SELECT":
      return h("select", common,
        spec.required ? null : h("option", { value: "" }, "(not given)"),
        (spec.values || []).map((v) => h("option", { value: v, selected: String(initial) === v || null }, v)));
    case "MULTISELECT":
      return h("select", { ...common, multiple: true },
        (spec.values || []).map((v) => h("option", { value: v, selected: (Array.isArray(initial) && initial.includes(v)) || null }, v)));
    case "FILE":
      return h("input", { ...common, type: "file" });
    case "SECRET":
      return h("input", { ...common, type: "password", autocomplete: "off", value: "" });
    case "DATE":
      return h("input", { ...common, type: "date", value: initial });
    case "EMAIL":
      return h("input", { ...common, type: "email", value: initial });
    case "URI":
      return h("input", { ...common, type: "url", value: initial });
    case "JSON":
    case "YAML":
      return h("textarea", { ...common, rows: 3 }, typeof initial === "string" ? initial : JSON.stringify(initial));
    default:
      return h("input", { ...common, type: "text", value: Array.isArray(initial) ? initial.join(",") : initial, placeholder: HINTS[spec.type] || null });
  }
}

export function inputFields(specs) {
  return specs.map((spec) => {
    const id = nextId(`input-${spec.id}`);
    const given = spec.default !== null && spec.default !== undefined;
    const need = given ? `default ${spec.type === "SECRET" ? "set" : JSON.stringify(spec.default)}` : spec.required ? "required" : "optional";
    const help = [spec.type, need, spec.description, HINTS[spec.type]]
      .filter(Boolean).join(" · ");
    return h("div", { className: "field" },
      h("label", { for: id }, spec.displayName || spec.id),
      control(spec, id),
      h("small", { id: `${id}-help`, className: "help" }, help));
  });
}

// The form's values as FormData for a start (files included, empty fields left out by the server).
export function startFormData(form, labelsText) {
  const data = new FormData();
  for (const el of form.querySelectorAll("[name]")) {
    if (el.type === "file") {
      if (el.files.length) data.append(el.name, el.files[0], el.files[0].name);
    } else if (el.multiple) {
      for (const option of el.selectedOptions) data.append(el.name, option.value);
    } else if (el.value !== "") {
      data.append(el.name, el.value);
    }
  }
  for (const pair of (labelsText || "").split(",").map((p) => p.trim()).filter(Boolean)) data.append("__label", pair);
  return data;
}

// The form's values as an object (a resume: no files).
export function formValues(form) {
  const values = {};
  for (const el of form.querySelectorAll("[name]")) {
    if (el.multiple) values[el.name] = [...el.selectedOptions].map((o) => o.value);
    else if (el.value !== "") values[el.name] = el.value;
  }
  return values;
}
