// Widgets generated from an input's definition: the definition's `widget` hint when given,
// otherwise one that fits its `kind` (options -> select, boolean -> toggle, number -> number).
import { useEffect, useId, useState } from "react";
import type { InputDef, Widget } from "../api/types.js";

export function widgetFor(def: InputDef): Widget {
  if (def.widget) return def.widget;
  if (def.options?.length) return "select";
  switch (def.kind) {
    case "boolean":
      return "toggle";
    case "number":
    case "integer":
      return "number";
    default:
      return "text";
  }
}

export function outOfRange(def: InputDef, value: unknown): string | null {
  if (typeof value !== "number") return null;
  if (def.kind === "integer" && !Number.isInteger(value)) return "whole numbers only";
  if (def.min !== undefined && value < def.min) return `at least ${def.min}`;
  if (def.max !== undefined && value > def.max) return `at most ${def.max}`;
  return null;
}

interface WidgetProps {
  name: string;
  def: InputDef;
  value: unknown;
  onChange(value: unknown): void;
  invalid?: boolean;
  browseFile?: (current: string) => Promise<string | null>;
  /** Values to pick from (free text stays allowed): a datalist under a text or file field. */
  suggestions?: readonly { value: string; label: string }[];
}

/** A number field that lets people type intermediate text ("-", "0.") and commits parsed numbers. */
function NumberField({ name, def, value, onChange, invalid }: WidgetProps) {
  const [text, setText] = useState(value === undefined || value === null ? "" : String(value));
  useEffect(() => {
    setText((current) => (Number(current) === value ? current : value === undefined || value === null ? "" : String(value)));
  }, [value]);
  const step = def.step ?? (def.kind === "integer" ? 1 : "any");
  const problem = outOfRange(def, value);
  return (
    <input
      className={`mf-input nodrag${invalid || problem ? " invalid" : ""}`}
      type="number"
      aria-label={name}
      title={problem ?? undefined}
      value={text}
      min={def.min}
      max={def.max}
      step={step}
      onChange={(e) => {
        setText(e.target.value);
        if (e.target.value.trim() !== "" && Number.isFinite(e.target.valueAsNumber)) onChange(e.target.valueAsNumber);
      }}
    />
  );
}

export function WidgetInput(props: WidgetProps) {
  const { name, def, value, onChange, invalid } = props;
  const id = useId();
  const cls = (extra = "") => `mf-input nodrag${extra}${invalid ? " invalid" : ""}`;
  switch (widgetFor(def)) {
    case "number":
      return <NumberField {...props} />;
    case "slider": {
      const min = def.min ?? 0;
      const max = def.max ?? 1;
      const current = typeof value === "number" ? value : min;
      const step = def.step ?? (def.kind === "integer" ? 1 : (max - min) / 100);
      return (
        <div className="mf-slider nodrag">
          <input
            type="range"
            aria-label={name}
            min={min}
            max={max}
            step={step}
            value={current}
            onChange={(e) => onChange(def.kind === "integer" ? Math.round(e.target.valueAsNumber) : e.target.valueAsNumber)}
          />
          <NumberField {...props} />
        </div>
      );
    }
    case "select":
      return (
        <select className={cls(" mf-select")} aria-label={name} value={String(value ?? "")} onChange={(e) => onChange(e.target.value)}>
          {def.options?.map((option) => (
            <option key={option} value={option}>
              {option}
            </option>
          ))}
        </select>
      );
    case "toggle":
      return (
        <label className="mf-toggle nodrag" htmlFor={id}>
          <input id={id} type="checkbox" aria-label={name} checked={value === true} onChange={(e) => onChange(e.target.checked)} />
          <span className="mf-toggle-track" />
        </label>
      );
    case "textarea":
      return (
        <textarea
          className={cls(" mf-textarea nowheel")}
          aria-label={name}
          rows={2}
          value={typeof value === "string" ? value : ""}
          onChange={(e) => onChange(e.target.value)}
        />
      );
    case "file":
      return (
        <div className="mf-file nodrag">
          <input
            className={cls(" mono")}
            aria-label={name}
            spellCheck={false}
            placeholder="path"
            list={props.suggestions?.length ? `${id}-list` : undefined}
            value={typeof value === "string" ? value : ""}
            onChange={(e) => onChange(e.target.value)}
          />
          {props.suggestions?.length ? (
            <datalist id={`${id}-list`} data-testid={`${name}-choices`}>
              {props.suggestions.map((s) => (
                <option key={s.value} value={s.value} label={s.label} />
              ))}
            </datalist>
          ) : null}
          {props.browseFile && (
            <button
              type="button"
              className="mf-icon-btn"
              title="Choose a file or folder"
              onClick={async () => {
                const picked = await props.browseFile!(typeof value === "string" ? value : "");
                if (picked) onChange(picked);
              }}
            >
              …
            </button>
          )}
        </div>
      );
    case "seed": {
      const max = def.max ?? 2 ** 31 - 1;
      const min = def.min ?? 0;
      return (
        <div className="mf-seed nodrag">
          <NumberField {...props} def={{ ...def, kind: "integer" }} />
          <button
            type="button"
            className="mf-icon-btn"
            title="Random seed"
            aria-label={`randomise ${name}`}
            onClick={() => onChange(min + Math.floor(Math.random() * (max - min + 1)))}
          >
            ⚄
          </button>
        </div>
      );
    }
    default:
      return (
        <input
          className={cls()}
          aria-label={name}
          value={typeof value === "string" ? value : value === undefined || value === null ? "" : String(value)}
          onChange={(e) => onChange(e.target.value)}
        />
      );
  }
}
