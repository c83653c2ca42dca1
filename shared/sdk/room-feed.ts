import { newEnvelopeId, type Envelope, type EnvelopeId } from '../envelope';
import { RecentIds } from './recent-ids';

/**
 * One joined room as the SDK tracks it: the envelopes already handed to the application (dropped
 * when they come again), the last one (`since` of the next rejoin), and live envelopes held while a
 * join is in flight so that `missed` comes before them. Pure state, no I/O.
 */
export class RoomFeed {
  private readonly seen: RecentIds;
  private last: EnvelopeId | undefined;
  private held: Envelope[] | undefined;
  /** Stands for "when this room was first joined" until an envelope was received. */
  private marker: EnvelopeId | undefined;

  constructor(
    readonly room: string,
    rememberIds: number,
  ) {
    this.seen = new RecentIds(rememberIds);
  }

  /** The id of the last envelope handed to the application. */
  get lastId(): EnvelopeId | undefined {
    return this.last;
  }

  /** True while a join is in flight (live envelopes are held). */
  get joining(): boolean {
    return this.held !== undefined;
  }

  /**
   * Starts a join; returns its `since`: nothing the first time, then the last envelope received, or,
   * when none came yet, an id made at the first join (the server places it by its UUIDv7 time).
   * With `atMost` (a resync: delivery may have skipped envelopes since that id's time), the older of
   * the two, because live envelopes after the gap moved the last one past it.
   */
  beginJoin(atMost?: EnvelopeId): EnvelopeId | undefined {
    this.held ??= [];
    if (this.marker === undefined) {
      this.marker = newEnvelopeId();
      return this.last;
    }
    const since = this.last ?? this.marker;
    return atMost !== undefined && atMost < since ? atMost : since;
  }

  /**
   * The join was answered (or failed: `missed` empty): returns the new envelopes of `missed`, then
   * the held live ones, without repeats, in the order to hand them over.
   */
  endJoin(missed: readonly Envelope[]): { missed: Envelope[]; live: Envelope[] } {
    const held = this.held ?? [];
    this.held = undefined;
    return { missed: this.accept(missed), live: this.accept(held) };
  }

  /** A live envelope: returned when it is to be handed over now (new, and no join in flight). */
  live(envelope: Envelope): Envelope[] {
    if (this.held) {
      this.held.push(envelope);
      return [];
    }
    return this.accept([envelope]);
  }

  /** An id this client published: the server may send it back in `missed`; it is not news. */
  markOwn(id: EnvelopeId): void {
    this.seen.add(id);
  }

  private accept(envelopes: readonly Envelope[]): Envelope[] {
    const fresh: Envelope[] = [];
    for (const envelope of envelopes) {
      if (!this.seen.add(envelope.id)) continue;
      this.last = envelope.id;
      fresh.push(envelope);
    }
    return fresh;
  }
}
