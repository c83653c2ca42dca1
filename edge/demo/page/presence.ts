import type { PresenceEvent, PresenceMember } from '@edge-realtime/client';
import { h } from './dom';

/** Who is in the room and in which region: a full list from `presence`, then join/leave events. */
export class PresenceView {
  private members = new Map<string, PresenceMember>();
  /** The exact count from the last answer, moved by events since (the list itself is capped). */
  private total = 0;

  constructor(
    private readonly list: HTMLElement,
    private readonly count: HTMLElement,
  ) {}

  /** Replaces everyone with the answer of a `presence` request (`count` is exact, `members` capped). */
  replace(members: readonly PresenceMember[], count = members.length): void {
    this.members = new Map(members.map((m) => [key(m), m]));
    this.total = count;
    this.render();
  }

  apply(event: PresenceEvent): void {
    const known = this.members.has(key(event));
    if (event.state === 'join') {
      this.members.set(key(event), { user: event.user, region: event.region });
      if (!known) this.total++;
    } else {
      this.members.delete(key(event));
      if (known) this.total = Math.max(0, this.total - 1);
    }
    this.render();
  }

  clear(): void {
    this.replace([], 0);
  }

  private render(): void {
    const members = [...this.members.values()].sort(
      (a, b) => a.user.localeCompare(b.user) || a.region.localeCompare(b.region),
    );
    this.count.textContent = String(Math.max(this.total, members.length));
    if (members.length === 0) {
      this.list.replaceChildren(h('li', { class: 'muted' }, 'Nobody yet.'));
      return;
    }
    this.list.replaceChildren(
      ...members.map((m) =>
        h(
          'li',
          { 'data-user': m.user, 'data-region': m.region },
          h('span', { class: 'avatar', 'aria-hidden': 'true' }, initials(m.user)),
          h('span', { class: 'who' }, m.user),
          h('span', { class: 'region-badge' }, m.region),
        ),
      ),
    );
  }
}

function key(member: PresenceMember): string {
  return `${member.user}\u0000${member.region}`;
}

function initials(user: string): string {
  return (user.match(/[\p{L}\p{N}]/gu) ?? ['?']).slice(0, 2).join('').toUpperCase();
}
