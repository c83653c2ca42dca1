import type { PresenceEvent, PresenceMember } from '../../../shared/sdk';
import { h } from './dom';

/** Who is in the room and in which region: a full list from `presence`, then join/leave events. */
export class PresenceView {
  private members = new Map<string, PresenceMember>();

  constructor(
    private readonly list: HTMLElement,
    private readonly count: HTMLElement,
  ) {}

  /** Replaces everyone with the answer of a `presence` request. */
  replace(members: readonly PresenceMember[]): void {
    this.members = new Map(members.map((m) => [key(m), m]));
    this.render();
  }

  apply(event: PresenceEvent): void {
    if (event.state === 'join') this.members.set(key(event), { user: event.user, region: event.region });
    else this.members.delete(key(event));
    this.render();
  }

  clear(): void {
    this.replace([]);
  }

  private render(): void {
    const members = [...this.members.values()].sort(
      (a, b) => a.user.localeCompare(b.user) || a.region.localeCompare(b.region),
    );
    this.count.textContent = String(members.length);
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
