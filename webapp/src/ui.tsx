// Small shared pieces: an error line, a status line, a "load more" pager.
import type { ComponentChildren } from "preact";

export function ErrorLine({ text }: { text: string | null }) {
  return (
    <p class="error" role="alert" hidden={!text}>
      {text}
    </p>
  );
}

export function Notice({ children, kind = "info" }: { children: ComponentChildren; kind?: "info" | "warn" | "ok" }) {
  return (
    <div class={`notice ${kind}`} role="status">
      {children}
    </div>
  );
}

export function Field({ label, children, hint }: { label: string; children: ComponentChildren; hint?: string }) {
  return (
    <label class="field">
      <span>{label}</span>
      {children}
      {hint && <small>{hint}</small>}
    </label>
  );
}

export function MoreButton({ show, onClick, busy }: { show: boolean; onClick: () => void; busy?: boolean }) {
  if (!show) return null;
  return (
    <button type="button" class="secondary" onClick={onClick} disabled={busy}>
      Show more
    </button>
  );
}
