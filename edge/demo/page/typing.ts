import type { Envelope, RealtimeClient } from '@edge-realtime/client';

/** How often a typing user says so again while they keep typing. */
const SAY_EVERY_MS = 2_000;
/** How long "is typing" stays up after the last such event from someone. */
const SHOW_FOR_MS = 3_500;

/** The data of a typing event: an ephemeral publish, delivered live everywhere and never stored. */
export interface TypingData {
  typing: true;
}

export function isTypingEvent(envelope: Envelope): boolean {
  const data = envelope.data as Partial<TypingData> | null;
  return envelope.ephemeral === true && typeof data === 'object' && data !== null && data.typing === true;
}

/**
 * "Who is typing" for one room: sends an ephemeral `{ typing: true }` at most every 2 s while the
 * user types, and shows the others who did in the last few seconds. A message from someone clears
 * their indicator at once.
 */
export class TypingIndicator {
  private readonly typing = new Map<string, ReturnType<typeof setTimeout>>();
  private lastSaid = 0;

  constructor(private readonly element: HTMLElement) {}

  /** The user typed in `room`: tell the others (not more often than every 2 s). */
  typed(client: RealtimeClient, room: string): void {
    const now = Date.now();
    if (now - this.lastSaid < SAY_EVERY_MS) return;
    this.lastSaid = now;
    const data: TypingData = { typing: true };
    void client.publish(room, { ...data }, { ephemeral: true }).catch(() => undefined);
  }

  /** The user sent their message: the next keystroke says "typing" again at once. */
  sent(): void {
    this.lastSaid = 0;
  }

  /** Someone else's typing event. */
  show(user: string): void {
    clearTimeout(this.typing.get(user));
    this.typing.set(
      user,
      setTimeout(() => this.stop(user), SHOW_FOR_MS),
    );
    this.render();
  }

  /** Someone's message arrived, or they left: they are not typing any more. */
  stop(user: string): void {
    clearTimeout(this.typing.get(user));
    if (this.typing.delete(user)) this.render();
  }

  clear(): void {
    for (const timer of this.typing.values()) clearTimeout(timer);
    this.typing.clear();
    this.render();
  }

  private render(): void {
    const users = [...this.typing.keys()].sort();
    this.element.dataset.users = users.join(',');
    this.element.textContent =
      users.length === 0
        ? ''
        : users.length === 1
          ? `${users[0]} is typing…`
          : `${users.slice(0, -1).join(', ')} and ${users.at(-1)} are typing…`;
  }
}
