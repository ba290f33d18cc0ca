/**
 * Small shared pieces of berth's UI: a status badge, a spinner, an empty state, an
 * inline error and a copy button. Each is accessible on its own: the spinner and the
 * copy button announce themselves to screen readers, errors are alerts.
 */
import { type ReactNode, useEffect, useRef, useState } from 'react';
import type { Tone } from '../lib/format.ts';

export function Badge({ tone, children }: { tone: Tone; children: ReactNode }) {
  return (
    <span className={`badge badge-${tone}`}>
      {tone === 'progress' ? <span className="pulse" aria-hidden="true" /> : null}
      {children}
    </span>
  );
}

export function Spinner({ label }: { label: string }) {
  return (
    <span className="spinner-row" role="status">
      <span className="spinner" aria-hidden="true" />
      <span>{label}</span>
    </span>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="empty">
      <p className="empty-title">{title}</p>
      {children ? <div className="empty-body">{children}</div> : null}
    </div>
  );
}

export function ErrorText({ id, children }: { id?: string; children: ReactNode }) {
  return (
    <p className="error-text" role="alert" id={id}>
      {children}
    </p>
  );
}

/** Copies `text`; says so for a moment, or says to copy by hand when the browser refuses. */
export function CopyButton({ text, label }: { text: string; label: string }) {
  const [state, setState] = useState<'idle' | 'copied' | 'failed'>('idle');
  const timer = useRef<ReturnType<typeof setTimeout>>(undefined);
  useEffect(() => () => clearTimeout(timer.current), []);
  const copy = async () => {
    try {
      await navigator.clipboard.writeText(text);
      setState('copied');
    } catch {
      setState('failed');
    }
    clearTimeout(timer.current);
    timer.current = setTimeout(() => setState('idle'), 2000);
  };
  const words = state === 'copied' ? 'Copied' : state === 'failed' ? 'Copy blocked: select the text' : 'Copy';
  return (
    <>
      <button type="button" className="button button-small" onClick={copy}>
        {words}
        <span className="visually-hidden"> {label}</span>
      </button>
      <span className="visually-hidden" role="status">
        {state === 'copied' ? `${label}: copied to the clipboard` : ''}
      </span>
    </>
  );
}

/**
 * An inline confirmation for a destructive action: it names what will go, takes focus
 * on its safe choice, and Escape cancels.
 */
export function Confirm({
  message,
  confirmLabel,
  busy,
  onConfirm,
  onCancel,
}: {
  message: ReactNode;
  confirmLabel: string;
  busy?: boolean;
  onConfirm: () => void;
  onCancel: () => void;
}) {
  const cancel = useRef<HTMLButtonElement>(null);
  useEffect(() => cancel.current?.focus(), []);
  return (
    <div
      className="confirm"
      role="alertdialog"
      aria-label={confirmLabel}
      onKeyDown={(e) => {
        if (e.key === 'Escape') onCancel();
      }}
    >
      <p>{message}</p>
      <div className="actions">
        <button type="button" className="button button-danger" onClick={onConfirm} disabled={busy}>
          {busy ? 'Working…' : confirmLabel}
        </button>
        <button type="button" className="button" ref={cancel} onClick={onCancel}>
          Cancel
        </button>
      </div>
    </div>
  );
}
