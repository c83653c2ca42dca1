import { PacketType, type Packet } from 'socket.io-parser';
import { scanJsonText } from '../../shared';
import { LeanDecoder } from './transport';

/**
 * A publish's `data` as the JSON text it arrived in, read and checked by one scan of that text
 * (`scanJsonText`) instead of being built as a value: the text is what `JSON.stringify` writes for
 * the value, so it is measured, stored and delivered as it is, and `problem` is what the value check
 * would have said.
 */
export class DataText {
  constructor(
    readonly json: string,
    readonly problem: string | undefined,
  ) {}
}

/** What a socket.io-client publish with an ack id looks like after `2<id>`. */
const PUBLISH_HEAD = '["publish",{';

/**
 * Socket.IO's decoder, except for `publish` events whose payload is in the form JSON.stringify
 * writes (what every socket.io-client sends): their `data` is scanned in one pass over the packet's
 * text and handed on as a `DataText`, and only the payload's other fields are parsed. A 64 KiB
 * `data` of `[{},{},...]` is then never turned into 20,000 objects (parse, check, stringify,
 * garbage) on the node's one thread. Every other packet, and a publish in any other form, is decoded
 * by socket.io-parser as before (through LeanDecoder, which holds less per connection).
 */
export class PublishDecoder extends LeanDecoder {
  override add(obj: unknown): void {
    const packet = typeof obj === 'string' && !this.reconstructing() ? publishPacket(obj) : undefined;
    if (packet) this.emitReserved('decoded', packet);
    else super.add(obj);
  }

  /** Whether a binary packet is being put together (socket.io-parser's private field). */
  private reconstructing(): boolean {
    return (this as unknown as { reconstructor?: unknown }).reconstructor != null;
  }
}

/**
 * The packet of `2[<ack id>]["publish",{...}]` with its `data` as a DataText, or undefined when the
 * text is anything else (socket.io-parser then decodes it, refusals included).
 */
function publishPacket(text: string): Packet | undefined {
  if (text.charCodeAt(0) !== 0x32 /* EVENT */) return undefined;
  let i = 1;
  while (isDigit(text.charCodeAt(i))) i++;
  if (!text.startsWith(PUBLISH_HEAD, i)) return undefined;
  const id = i > 1 ? Number(text.slice(1, i)) : undefined;
  const argsAt = i;
  i += PUBLISH_HEAD.length;
  let data: { start: number; end: number; problem: string | undefined } | undefined;
  if (text.charCodeAt(i) === 0x7d /* } */) return undefined;
  for (;;) {
    if (text.charCodeAt(i) !== 0x22 /* " */) return undefined;
    const key = scanJsonText(text, i);
    if (!key || text.charCodeAt(key.end) !== 0x3a /* : */) return undefined;
    const isData = text.startsWith('"data":', i) && key.end === i + 6;
    const valueAt = key.end + 1;
    const value = scanJsonText(text, valueAt);
    if (!value) return undefined;
    if (isData) {
      // A repeated `data` is left to JSON.parse (the last one wins there).
      if (data) return undefined;
      data = { start: valueAt, end: value.end, problem: value.problem };
    }
    i = value.end;
    const next = text.charCodeAt(i++);
    if (next === 0x7d /* } */) break;
    if (next !== 0x2c /* , */) return undefined;
  }
  if (!data || text.charCodeAt(i) !== 0x5d /* ] */ || i + 1 !== text.length) return undefined;
  let args: [string, Record<string, unknown>];
  try {
    // The payload without its data, which is put back as the scanned text.
    args = JSON.parse(`${text.slice(argsAt, data.start)}0${text.slice(data.end)}`) as typeof args;
  } catch {
    return undefined;
  }
  args[1].data = new DataText(text.slice(data.start, data.end), data.problem);
  const packet: Packet = { type: PacketType.EVENT, nsp: '/', data: args };
  if (id !== undefined) packet.id = id;
  return packet;
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}
