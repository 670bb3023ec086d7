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
  /** The stored value; undefined when unset (the engine then uses the default). */
  value: unknown;
  /** undefined unsets the input. */
  onChange(value: unknown): void;
  invalid?: boolean;
  browseFile?: (current: string) => Promise<string | null>;
  /** Values to pick from (free text stays allowed): a datalist under a text or file field. */
  suggestions?: readonly { value: string; label: string }[];
}

const numberText = (value: unknown) => (value === undefined || value === null ? "" : String(value));

/**
 * A number field that lets people type intermediate text ("-", "0.") and commits parsed numbers.
 * Cleared, it unsets the input (the default, shown as the placeholder, applies): an empty field
 * never goes on meaning the value it had before.
 */
function NumberField({ name, def, value, onChange, invalid }: WidgetProps) {
  const [text, setText] = useState(numberText(value));
  useEffect(() => {
    setText((current) => (current.trim() !== "" && Number(current) === value ? current : numberText(value)));
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
      placeholder={def.default === undefined ? undefined : String(def.default)}
      min={def.min}
      max={def.max}
      step={step}
      onChange={(e) => {
        setText(e.target.value);
        if (e.target.value.trim() === "") onChange(undefined);
        else if (Number.isFinite(e.target.valueAsNumber)) onChange(e.target.valueAsNumber);
      }}
    />
  );
}

export function WidgetInput(props: WidgetProps) {
  const { name, def, onChange, invalid } = props;
  // Widgets other than number fields show the default while the input is unset.
  const value = props.value === undefined ? def.default : props.value;
  const id = useId();
  const cls = (extra = "") => `mf-input nodrag${extra}${invalid ? " invalid" : ""}`;
  switch (widgetFor(def)) {
    case "number":
      return <NumberField {...props} />;
    case "slider": {
      const min = def.min ?? 0;
      const max = def.max ?? 1;
      const current = typeof value === "number" ? value : min;
      // The range shows the default when unset; the number beside it stays empty, with the default as placeholder.
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
