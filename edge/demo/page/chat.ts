import type { Envelope } from '@edge-realtime/client';
import { clock, h } from './dom';

/** What the page publishes; other publishers may send any JSON, shown as it is. */
export interface ChatData {
  text: string;
  city?: string;
}

type Delivery =
  | { state: 'received' }
  | { state: 'sending' }
  | { state: 'sent'; ackMs: number }
  | { state: 'failed'; why: string };

/**
 * The room's messages, each id once, ordered by time (then id, a UUIDv7): live ones, history pages
 * and the rejoin's missed ones all go through `show`.
 */
export class ChatView {
  private readonly shown = new Map<string, { envelope: Envelope; item: HTMLLIElement }>();

  constructor(private readonly list: HTMLOListElement) {}

  /** Empties the list, with `note` in place of messages. */
  reset(note: string): void {
    this.shown.clear();
    this.list.replaceChildren(h('li', { class: 'empty' }, note));
  }

  /** The oldest message shown (the next history page ends before it). */
  get oldest(): Envelope | undefined {
    let oldest: Envelope | undefined;
    for (const { envelope } of this.shown.values())
      if (!oldest || before(envelope, oldest)) oldest = envelope;
    return oldest;
  }

  /** Shows an envelope (or updates how one of ours was delivered); `mine` marks the user's own. */
  show(envelope: Envelope, delivery: Delivery = { state: 'received' }, mine = false): void {
    const existing = this.shown.get(envelope.id);
    const item = render(envelope, delivery, mine);
    if (existing) {
      existing.item.replaceWith(item);
      this.shown.set(envelope.id, { envelope, item });
      return;
    }
    this.list.querySelector('.empty')?.remove();
    const next = [...this.shown.values()]
      .filter((shown) => before(envelope, shown.envelope))
      .sort((a, b) => (before(a.envelope, b.envelope) ? -1 : 1))[0];
    const atBottom = this.list.scrollHeight - this.list.scrollTop - this.list.clientHeight < 40;
    this.list.insertBefore(item, next?.item ?? null);
    this.shown.set(envelope.id, { envelope, item });
    if (!next && atBottom) this.list.scrollTop = this.list.scrollHeight;
  }

  has(id: string): boolean {
    return this.shown.has(id);
  }
}

function before(a: Envelope, b: Envelope): boolean {
  return a.ts !== b.ts ? a.ts < b.ts : a.id < b.id;
}

function render(envelope: Envelope, delivery: Delivery, mine: boolean): HTMLLIElement {
  const data = envelope.data as Partial<ChatData> | null;
  const text = typeof data?.text === 'string' ? data.text : JSON.stringify(envelope.data);
  const city = typeof data?.city === 'string' ? `${data.city} · ` : '';
  return h(
    'li',
    {
      class: `message${mine ? ' mine' : ''} ${delivery.state}`,
      'data-id': envelope.id,
      'data-origin': envelope.origin,
    },
    h(
      'div',
      { class: 'meta' },
      h('strong', { class: 'user' }, envelope.user),
      h('span', { class: 'via' }, `${city}via ${envelope.origin}`),
      h('time', { datetime: new Date(envelope.ts).toISOString() }, clock(envelope.ts)),
      h('span', { class: 'delivery' }, describe(delivery)),
    ),
    h('div', { class: 'text' }, text),
  );
}

function describe(delivery: Delivery): string {
  switch (delivery.state) {
    case 'received':
      return '';
    case 'sending':
      return 'sending…';
    case 'sent':
      return `acked in ${Math.round(delivery.ackMs)} ms`;
    case 'failed':
      return `not sent: ${delivery.why}`;
  }
}
